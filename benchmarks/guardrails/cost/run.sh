#!/bin/bash
# Guardrail detector cost in instructions (callgrind), on the benchmark arm's ~1 KB chat prompt, and
# the detectors' decisions on a corpus, for comparing two trees (see README.md here).
#   benchmarks/guardrails/cost/run.sh [SRCROOT]        instructions per call, per detector and message
#   benchmarks/guardrails/cost/run.sh [SRCROOT] corpus FILE.jsonl OUT   every decision on every text
# SRCROOT: the tree whose detectors to build (default: this repository). Run from the repository root.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
SRC="$(cd "${1:-$ROOT}" && pwd)"
HERE="$ROOT/benchmarks/guardrails/cost"
WORK="${COST_WORK:-/tmp/switchyard-guardrail-cost}"
mkdir -p "$WORK"
G="$SRC/Sources/SwitchyardCore/Guardrails"
BIN="$WORK/harness-$(echo "$SRC" | tr / _)"
# The detector sources alone (and the word-at-a-time byte helpers they use), whole-module
# optimised, as in a release build of the gateway.
# (From $WORK: swiftc leaves module files in the current directory.)
(cd "$WORK" && swiftc -O -wmo -module-name GuardHarness -o "$BIN" "$HERE/main.swift" "$HERE/Resources.swift" \
    "$G/Finding.swift" "$G/PIIDetector.swift" "$G/InjectionDetector.swift" "$G/InjectionContext.swift" \
    "$G/InjectionLinearModel.swift" "$G/TextNormalizer.swift" "$G/PhraseMatcher.swift" "$SRC/Sources/SwitchyardCore/JSON/ByteScan.swift")
export GUARD_RESOURCES="$SRC/Sources/SwitchyardCore/Resources"
if [ "${2:-}" = corpus ]; then
    exec "$BIN" corpus "$3" "$4"
fi
# The arm's texts: the system and user messages of benchmarks/bodies/chat.json.
python3 - "$ROOT/benchmarks/bodies/chat.json" "$WORK" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["messages"]:
    open(f"{sys.argv[2]}/{m['role']}.txt", "w").write(m["content"])
PY
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$1" "$2" "$3" 2>&1 >/dev/null | awk '/Collected/ {print $NF}'; }
# The arm runs pii and secrets on both messages, injection on the user's (its default roles).
for run in "injection user" "pii user" "pii system" "secrets user" "secrets system"; do
    set -- $run
    a=$(ir "$1" "$WORK/$2.txt" 0)
    b=$(ir "$1" "$WORK/$2.txt" 10)
    printf "%-10s %-7s %9d instructions/call\n" "$1" "$2" $(( (b - a) / 10 ))
done
