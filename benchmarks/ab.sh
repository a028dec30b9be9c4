#!/usr/bin/env bash
# Same-time A/B of two switchyard binaries (or two configurations): CPU per request of each.
#
#   benchmarks/ab.sh BIN_A BIN_B [TAIL_A [TAIL_B]]
#
# Both gateways run at once on the proxy CPU, each loaded by its own wrk on the load-generator
# CPU, in front of the benchmark's fixed-response nginx upstream. Each round prints both
# gateways' CPU µs per request (from /proc) and their ratio B/A. On a shared or noisy host the
# CPU per request of one binary moves by tens of percent between runs minutes apart; two
# binaries measured in the same seconds on the same CPU see the same host, so their ratio holds
# where sequential runs do not (a binary against itself reads 1.00 within about 0.5%). The
# absolute figures are higher than benchmarks/run.sh's (two processes share the CPU's caches):
# quote the ratio, not the figures.
#
# TAIL_A / TAIL_B: YAML files appended to each gateway's configuration (models are already
# bench-model and bench-model-stream on the upstream; add e.g. a tracing: or cache: section).
# TAIL_B defaults to TAIL_A (an empty TAIL_A with a TAIL_B compares two configurations of one
# binary); with neither, both run the plain configuration.
#
# Environment: SECS (per round, 5), ROUNDS (3), CONNS (per gateway, 16), BODY (a file under
# benchmarks/bodies, chat.json), VARY (a placeholder in it replaced by a random number on every
# request, e.g. __N__ with chat-guardrails.json), URL_PATH (/v1/chat/completions), SERVER_A / SERVER_B (more
# `server:` entries, e.g. ", access_log: true, log_level: info"), LOADGEN_CPU (0), PROXY_CPU (1),
# VIRTUAL_KEY (a, b or both: which sides send a virtual key each creates with `keys create`
# instead of the master key; the guarded arm's access-control stages run only for a virtual key).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
absolute() { [ -z "$1" ] || echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
A=$(absolute "$1") B=$(absolute "$2") TAIL_A=$(absolute "${3:-}") TAIL_B=$(absolute "${4-${3:-}}")
SECS=${SECS:-5} ROUNDS=${ROUNDS:-3} CONNS=${CONNS:-16} BODY=${BODY:-chat.json} URL_PATH=${URL_PATH:-/v1/chat/completions}
LOADGEN_CPU=${LOADGEN_CPU:-0} PROXY_CPU=${PROXY_CPU:-1}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$HERE/.work/ab"
UPSTREAM_PORT=18811 PORT_A=18830 PORT_B=18840
for tool in wrk nginx python3 taskset curl; do command -v "$tool" >/dev/null || { echo "ab.sh: $tool is missing" >&2; exit 1; }; done
# A binary copied without the resource bundle beside it runs without its tokenizers and the
# injection guardrail's learned stage: a different gateway from the one that ships.
for bin in "$A" "$B"; do
    [ -d "$(dirname "$bin")/switchyard_SwitchyardCore.resources" ] || {
        echo "ab.sh: no switchyard_SwitchyardCore.resources next to $bin (copy it there from .build/release/)" >&2
        exit 1
    }
done

rm -rf "$WORK"; mkdir -p "$WORK/upstream/tmp" "$WORK/upstream/files" "$WORK/a" "$WORK/b"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

python3 "$HERE/upstream.py" --out "$WORK/upstream/files" >/dev/null
sed -e "s|@WORK@|$WORK|g" -e "s|@FILES@|$WORK/upstream/files|g" -e "s|@PORT@|$UPSTREAM_PORT|g" \
    -e "s|@STREAM_PORT@|$((UPSTREAM_PORT + 1))|g" -e "s|@MCP_PORT@|$((UPSTREAM_PORT + 2))|g" \
    "$HERE/upstream.conf.template" > "$WORK/upstream/nginx.conf"
taskset -c "$LOADGEN_CPU" nginx -p "$WORK/upstream" -c "$WORK/upstream/nginx.conf" > "$WORK/upstream/nginx.out" 2>&1 &
PIDS+=($!)

start() { # side binary port tail server-extra
    local side=$1 bin=$2 port=$3 tail=$4 extra=$5 defaults=""
    # The access log off and warnings only, unless the extra entries say otherwise.
    [[ $extra == *access_log* ]] || defaults+=", access_log: false"
    [[ $extra == *log_level* ]] || defaults+=", log_level: warning"
    cat > "$WORK/$side/switchyard.yaml" <<EOF
server: {host: 127.0.0.1, port: $port, master_key: bench-master-key$defaults$extra}
providers:
  - {name: upstream, type: openai-compatible, base_url: "http://127.0.0.1:$UPSTREAM_PORT/v1", max_connections: 256}
  - {name: upstream-stream, type: openai-compatible, base_url: "http://127.0.0.1:$((UPSTREAM_PORT + 1))/v1", max_connections: 256}
models:
  - {name: bench-model, provider: upstream, model: mock-gpt}
  - {name: bench-model-stream, provider: upstream-stream, model: mock-gpt}
EOF
    [ -n "$tail" ] && cat "$tail" >> "$WORK/$side/switchyard.yaml"
    # The side's credential: the master key, or a virtual key it creates in its own database.
    echo "bench-master-key" > "$WORK/$side/key"
    if [[ ${VIRTUAL_KEY:-} == both || ${VIRTUAL_KEY:-} == "$side" ]]; then
        (cd "$WORK/$side" && "$bin" keys create --name bench --config "$WORK/$side/switchyard.yaml") \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' > "$WORK/$side/key" \
            || { echo "ab.sh: could not create a virtual key for side $side" >&2; exit 1; }
    fi
    (cd "$WORK/$side" && exec taskset -c "$PROXY_CPU" "$bin" serve --config "$WORK/$side/switchyard.yaml" --log-format json \
        > "$WORK/$side/out" 2>&1) &
    PIDS+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && return 0; sleep 0.1; done
    echo "ab.sh: gateway $side did not start; see $WORK/$side/out" >&2
    exit 1
}
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$UPSTREAM_PORT/" && break; sleep 0.1; done
start a "$A" $PORT_A "$TAIL_A" "${SERVER_A:-}"
start b "$B" $PORT_B "$TAIL_B" "${SERVER_B:-}"
PID_A=${PIDS[1]} PID_B=${PIDS[2]}

load() { # seconds port output
    local side=a
    [ "$2" = "$PORT_B" ] && side=b
    BENCH_AUTH="Bearer $(cat "$WORK/$side/key")" BENCH_BODY="$HERE/bodies/$BODY" BENCH_VARY="${VARY:-}" taskset -c "$LOADGEN_CPU" \
        wrk -t1 -c"$CONNS" -d"$1"s --timeout 5s -s "$HERE/bench.lua" "http://127.0.0.1:$2$URL_PATH" > "$3" 2>&1
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
load 1 $PORT_A "$WORK/warm-a" & WARM=$!; load 1 $PORT_B "$WORK/warm-b"; wait $WARM
echo "A: $A ${TAIL_A:+($TAIL_A)}"
echo "B: $B ${TAIL_B:+($TAIL_B)}"
for round in $(seq "$ROUNDS"); do
    a0=$(ticks "$PID_A"); b0=$(ticks "$PID_B")
    load "$SECS" $PORT_A "$WORK/wrk-a" & LOAD=$!; load "$SECS" $PORT_B "$WORK/wrk-b"; wait $LOAD
    a1=$(ticks "$PID_A"); b1=$(ticks "$PID_B")
    python3 - "$WORK/wrk-a" "$WORK/wrk-b" "$a0" "$a1" "$b0" "$b1" "$(getconf CLK_TCK)" "$round" <<'EOF'
import json, sys
def result(path):
    line = next(l for l in open(path) if l.startswith("BENCH_JSON "))
    return json.loads(line[len("BENCH_JSON "):])
a, b = result(sys.argv[1]), result(sys.argv[2])
a0, a1, b0, b1, hz = (float(x) for x in sys.argv[3:8])
cpu_a = (a1 - a0) / hz * 1e6 / max(1, a["requests"])
cpu_b = (b1 - b0) / hz * 1e6 / max(1, b["requests"])
bad = a["errors"]["status"] + b["errors"]["status"]
print(f"round {sys.argv[8]}: A {cpu_a:6.1f} µs/req ({a['requests']} req)  B {cpu_b:6.1f} µs/req ({b['requests']} req)  "
      f"B/A {cpu_b / cpu_a:.3f}" + (f"  NON-2XX {bad}" if bad else ""))
EOF
done
