#!/usr/bin/env bash
# Switchyard benchmark: wrk against three arms in one run
#   direct     - straight to the fixed-response upstream (a separate nginx serving fixed files)
#   nginx      - nginx as a plain reverse proxy (1 worker, keep-alive upstream, no buffering)
#   switchyard - the Switchyard release build
# for a non-streaming (~0.7 KB JSON) and a streaming (~16 KB SSE) chat completion, at 1, 32 and
# 128 connections; then feature arms (guarded, guardrails, logged, cached, semantic, Anthropic
# client, MCP tools/call), each as CPU per request next to the plain gateway; a time-to-first-token probe; the
# gateway's RSS idle and after 20k streams. The upstream must never be the bottleneck: the run is
# marked INVALID unless the direct arm reaches >= 5x the gateway's requests/s at 32 connections.
#
# Writes benchmarks/results/latest.json and benchmarks/RESULTS.md. See benchmarks/README.md.
#
# Environment knobs (all optional):
#   SWITCHYARD_BIN      use this switchyard binary instead of building the release product
#   BENCH_DURATION      wrk duration per measured run              (default 10s)
#   BENCH_WARMUP        discarded wrk warm-up run before each one  (default 2s)
#   BENCH_CONNECTIONS   connection counts                         (default "1 32 128")
#   FEATURE_CONNECTIONS connection counts for the feature arms     (default "1 32"; GUARDED_CONNECTIONS is an alias)
#   WRK_THREADS         wrk threads for >1 connection             (default: the CPUs in LOADGEN_CPU)
#   STREAM_CHUNKS       content chunks per streamed answer         (default 50)
#   STREAM_CHUNK_BYTES  characters per content chunk               (default 90, ~16 KB/stream)
#   BENCH_MIN_STREAMED  streams through the gateway before RSS is read (default 20000)
#   BENCH_VALID_FACTOR  direct rps must be >= this x the gateway's at 32 connections (default 5)
#   TTFT_N              streamed requests in the TTFT probe        (default 200)
#   LOADGEN_CPU         CPU for wrk, the TTFT probe and the upstream (default 0)
#   PROXY_CPU           CPU for the proxy under test               (default 1)
#   BENCH_WAIT_IDLE     seconds to wait for other processes to go quiet before starting (default 60)
#   BENCH_OUT_JSON / BENCH_OUT_MD   output paths (default results/latest.json, RESULTS.md)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WORK="${BENCH_WORK:-$HERE/.work}"
DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
CONNECTIONS="${BENCH_CONNECTIONS:-1 32 128}"
FEATURE_CONNECTIONS="${FEATURE_CONNECTIONS:-${GUARDED_CONNECTIONS:-1 32}}"
STREAM_CHUNKS="${STREAM_CHUNKS:-50}"
STREAM_CHUNK_BYTES="${STREAM_CHUNK_BYTES:-90}"
TTFT_N="${TTFT_N:-200}"
LOADGEN_CPU="${LOADGEN_CPU:-0}"
# One wrk thread per load-generator CPU: two threads on one CPU only switch between each other,
# and the direct arm (the validity check) then measures wrk's contention rather than the
# upstream's capacity (one CPU: ~20k req/s with two threads, ~23k with one).
WRK_THREADS="${WRK_THREADS:-$(python3 -c 'import sys
n = 0
for part in sys.argv[1].split(","):
    a, _, b = part.partition("-")
    n += int(b) - int(a) + 1 if b else 1
print(max(1, n))' "$LOADGEN_CPU")}"
PROXY_CPU="${PROXY_CPU:-1}"
WAIT_IDLE="${BENCH_WAIT_IDLE:-60}"
OUT_JSON="${BENCH_OUT_JSON:-$HERE/results/latest.json}"
OUT_MD="${BENCH_OUT_MD:-$HERE/RESULTS.md}"
MIN_STREAMED="${BENCH_MIN_STREAMED:-20000}"
VALID_FACTOR="${BENCH_VALID_FACTOR:-5}"

UPSTREAM_PORT=19090         # fixed upstream: chat.json, embeddings.json, /v1/traces
UPSTREAM_STREAM_PORT=19091  # fixed upstream: chat.sse (STREAM_CHUNKS x STREAM_CHUNK_BYTES + usage chunk)
UPSTREAM_MCP_PORT=19092     # fixed upstream: an MCP server over Streamable HTTP (POST /mcp)
GATEWAY_PORT=18080          # the plain gateway (also the Anthropic-client arm)
NGINX_PORT=18081
NGINX_STREAM_PORT=18082
GUARDED_PORT=18083      # virtual key, limits, budget, access rule
CACHED_PORT=18084       # exact response cache on: every measured request is a hit
SEMANTIC_PORT=18085     # semantic cache: every request an exact miss, an embedding call and a semantic hit
LOGGED_PORT=18086       # access log + request log with bodies + every request traced and exported
GUARDRAILS_PORT=18087   # pii + secrets + injection guardrails on the ~1 KB prompt
MCP_PORT=18088          # /mcp in front of the upstream's MCP server: tools/call in one session
PATH_CHAT=/v1/chat/completions
PATH_MESSAGES=/v1/messages
BODY_PLAIN="$HERE/bodies/chat.json"
BODY_STREAM="$HERE/bodies/chat-stream.json"
BODY_MESSAGES="$HERE/bodies/messages.json"
BODY_MESSAGES_STREAM="$HERE/bodies/messages-stream.json"
BODY_MCP="$HERE/bodies/mcp-call.json"
PATH_MCP=/mcp
MCP_PROTOCOL=2025-06-18

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Processes we start; the trap stops exactly these (by pid), never anything else.
PIDS=()
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        log "failed (exit $status); logs are in $WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Tools.
need_install=()
command -v wrk >/dev/null 2>&1 || need_install+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_install+=(nginx)
command -v curl >/dev/null 2>&1 || need_install+=(curl)
command -v taskset >/dev/null 2>&1 || need_install+=(util-linux)
if [ "${#need_install[@]}" -gt 0 ]; then
    log "installing ${need_install[*]} with apt-get"
    command -v apt-get >/dev/null 2>&1 || die "missing ${need_install[*]} and no apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_install[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
command -v python3 >/dev/null 2>&1 || die "python3 is required"
[ "$(nproc --all)" -gt "$PROXY_CPU" ] || die "CPU $PROXY_CPU does not exist"

# ---------------------------------------------------------------------------------------------
# The gateway binary: SWITCHYARD_BIN, or a release build in its own scratch folder.
BUILD_CONFIG="release"
GIT_HEAD="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
GIT_DIRTY="$(git -C "$ROOT" status --porcelain -- Sources Package.swift Package.resolved 2>/dev/null | wc -l)"
if [ -n "${SWITCHYARD_BIN:-}" ]; then
    BIN="$SWITCHYARD_BIN"
    BUILD_CONFIG="${SWITCHYARD_BUILD_CONFIG:-given binary (SWITCHYARD_BIN)}"
    GIT_HEAD="${SWITCHYARD_COMMIT:-unknown (given binary; checkout was at $GIT_HEAD)}"
else
    log "building switchyard (release, scratch path .build-release); this takes several minutes"
    (cd "$ROOT" && swift build -c release --product switchyard --scratch-path .build-release) >&2 \
        || die "release build failed"
    BIN="$ROOT/.build-release/release/switchyard"
fi
[ -x "$BIN" ] || die "switchyard binary not found or not executable: $BIN"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
# Without the resource bundle beside it the binary has no tokenizers and no learned injection
# stage: it is not the gateway that ships, and the guardrails arm would read low.
[ -d "$(dirname "$BIN")/switchyard_SwitchyardCore.resources" ] \
    || die "no switchyard_SwitchyardCore.resources next to $BIN (copy it there from the build folder)"
# How it was linked: the release build links the Swift runtime and Foundation statically, as
# scripts/package and the container image ship it (Package.swift); a given binary may differ.
if ldd "$BIN" 2>/dev/null | grep -q 'libswiftCore\|libFoundation'; then
    BUILD_CONFIG="$BUILD_CONFIG; Swift runtime and Foundation linked dynamically"
else
    BUILD_CONFIG="$BUILD_CONFIG; Swift runtime and Foundation linked statically (as shipped)"
fi

# ---------------------------------------------------------------------------------------------
# Helpers.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port pid name
    local port=$1 pid=$2 name=$3
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) exited during startup; see $WORK"
        port_open "$port" && return 0
        sleep 0.1
    done
    die "$name did not open port $port within 30 s"
}

cpu_ticks() { # pid -> utime+stime in clock ticks
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }

pid_list() { # our pid and the processes we started, comma-separated
    local IFS=,
    echo "$$,${PIDS[*]}"
}

nginx_worker_of() { # master pid -> its (single) worker's pid
    local worker=""
    for _ in $(seq 50); do
        worker="$(cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}')"
        [ -n "$worker" ] && break
        sleep 0.1
    done
    [ -n "$worker" ] || die "could not find the worker process of nginx $1"
    echo "$worker"
}

gateway_alive() {
    if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
        log "switchyard (pid $GATEWAY_PID) is gone. Last lines of its stdout and stderr:"
        tail -n 40 "$WORK/switchyard.out" >&2 || true
        tail -n 40 "$WORK/switchyard.err" >&2 || true
        local rc=0
        wait "$GATEWAY_PID" 2>/dev/null || rc=$?
        die "switchyard died during the benchmark (exit status $rc)"
    fi
}

# ---------------------------------------------------------------------------------------------
rm -rf "$WORK"
mkdir -p "$WORK/nginx-tmp" "$WORK/upstream/tmp" "$(dirname "$OUT_JSON")" "$(dirname "$OUT_MD")"
RUNS="$WORK/runs.jsonl"
: > "$RUNS"
META="$WORK/meta.txt"
{
    echo "started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "binary=$BIN"
    echo "build_config=$BUILD_CONFIG"
    echo "git_head=$GIT_HEAD"
    echo "git_dirty_source_files=$GIT_DIRTY"
    echo "duration=$DURATION"
    echo "warmup=$WARMUP"
    echo "connections=$CONNECTIONS"
    echo "feature_connections=$FEATURE_CONNECTIONS"
    echo "wrk_threads=$WRK_THREADS"
    echo "stream_chunks=$STREAM_CHUNKS"
    echo "stream_chunk_bytes=$STREAM_CHUNK_BYTES"
    echo "min_streamed=$MIN_STREAMED"
    echo "valid_factor=$VALID_FACTOR"
    echo "ttft_n=$TTFT_N"
    echo "loadgen_cpu=$LOADGEN_CPU"
    echo "proxy_cpu=$PROXY_CPU"
    echo "body_bytes_plain=$(wc -c < "$BODY_PLAIN")"
    echo "body_bytes_stream=$(wc -c < "$BODY_STREAM")"
    echo "body_bytes_messages=$(wc -c < "$BODY_MESSAGES")"
    echo "body_bytes_mcp=$(wc -c < "$BODY_MCP")"
    echo "nginx_bin=$NGINX"
    echo "clk_tck=$(getconf CLK_TCK)"
} > "$META"

for port in $UPSTREAM_PORT $UPSTREAM_STREAM_PORT $UPSTREAM_MCP_PORT $GATEWAY_PORT $GUARDED_PORT $CACHED_PORT $SEMANTIC_PORT \
    $LOGGED_PORT $GUARDRAILS_PORT $MCP_PORT $NGINX_PORT $NGINX_STREAM_PORT; do
    port_open "$port" && die "port $port is already in use; stop whatever listens there"
done

# Other work on the machine skews every number: wait (up to BENCH_WAIT_IDLE s) until it is quiet.
# Dirty pages first (a release build just written out makes the kernel's writeback compete with
# the first arms measured).
sync
log "waiting up to ${WAIT_IDLE}s for the machine to be idle"
IDLE_JSON="$(python3 "$HERE/cpusnap.py" wait-idle --exclude "$$" --max-wait "$WAIT_IDLE")"
echo "idle_check_start=$IDLE_JSON" >> "$META"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["idle"] else 1)' "$IDLE_JSON" \
    || log "warning: machine still busy after ${WAIT_IDLE}s: $IDLE_JSON"

# ---------------------------------------------------------------------------------------------
# The upstream: a separate nginx on the load generator's CPU serving fixed files (upstream.py).
python3 "$HERE/upstream.py" --out "$WORK/upstream/files" --chunks "$STREAM_CHUNKS" --chunk-bytes "$STREAM_CHUNK_BYTES" \
    || die "could not write the upstream's fixed answers"
sed -e "s|@WORK@|$WORK|g" -e "s|@FILES@|$WORK/upstream/files|g" -e "s|@PORT@|$UPSTREAM_PORT|g" \
    -e "s|@STREAM_PORT@|$UPSTREAM_STREAM_PORT|g" -e "s|@MCP_PORT@|$UPSTREAM_MCP_PORT|g" \
    "$HERE/upstream.conf.template" > "$WORK/upstream/nginx.conf"
"$NGINX" -t -q -p "$WORK/upstream" -c "$WORK/upstream/nginx.conf" 2>"$WORK/upstream/nginx-test.log" \
    || { cat "$WORK/upstream/nginx-test.log" >&2; die "nginx rejected the generated upstream configuration"; }
log "starting the fixed-response upstream (nginx, 1 worker) on CPU $LOADGEN_CPU (ports $UPSTREAM_PORT, $UPSTREAM_STREAM_PORT, $UPSTREAM_MCP_PORT)"
taskset -c "$LOADGEN_CPU" "$NGINX" -p "$WORK/upstream" -c "$WORK/upstream/nginx.conf" > "$WORK/upstream/nginx.out" 2>&1 &
UPSTREAM_MASTER_PID=$!; PIDS+=("$UPSTREAM_MASTER_PID")
wait_port "$UPSTREAM_PORT" "$UPSTREAM_MASTER_PID" "upstream nginx"
wait_port "$UPSTREAM_STREAM_PORT" "$UPSTREAM_MASTER_PID" "upstream nginx"
wait_port "$UPSTREAM_MCP_PORT" "$UPSTREAM_MASTER_PID" "upstream nginx"
UPSTREAM_PID="$(nginx_worker_of "$UPSTREAM_MASTER_PID")"
echo "upstream_chat_bytes=$(wc -c < "$WORK/upstream/files/chat.json")" >> "$META"
echo "upstream_stream_bytes=$(wc -c < "$WORK/upstream/files/chat.sse")" >> "$META"
echo "upstream_mcp_call_bytes=$(wc -c < "$WORK/upstream/files/mcp-call.json")" >> "$META"

# ---------------------------------------------------------------------------------------------
# nginx as a reverse proxy on the proxy CPU.
sed -e "s|@WORK@|$WORK|g" -e "s|@LISTEN_PORT@|$NGINX_PORT|g" -e "s|@LISTEN_PORT_STREAM@|$NGINX_STREAM_PORT|g" \
    -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" -e "s|@UPSTREAM_PORT_STREAM@|$UPSTREAM_STREAM_PORT|g" \
    "$HERE/nginx.conf.template" > "$WORK/nginx.conf"
"$NGINX" -t -q -p "$WORK" -c "$WORK/nginx.conf" 2>"$WORK/nginx-test.log" \
    || { cat "$WORK/nginx-test.log" >&2; die "nginx rejected the generated configuration"; }
log "starting nginx (1 worker) on CPU $PROXY_CPU (ports $NGINX_PORT, $NGINX_STREAM_PORT)"
taskset -c "$PROXY_CPU" "$NGINX" -p "$WORK" -c "$WORK/nginx.conf" > "$WORK/nginx.out" 2>&1 &
NGINX_PID=$!; PIDS+=("$NGINX_PID")
wait_port "$NGINX_PORT" "$NGINX_PID" "nginx"
wait_port "$NGINX_STREAM_PORT" "$NGINX_PID" "nginx"
NGINX_WORKER_PID="$(nginx_worker_of "$NGINX_PID")"

# ---------------------------------------------------------------------------------------------
# Switchyard on the proxy CPU.
cat > "$WORK/switchyard.yaml" <<EOF
# Generated by benchmarks/run.sh
server:
  host: 127.0.0.1
  port: $GATEWAY_PORT
  access_log: false
  log_level: warning
providers:
  - name: upstream
    type: openai-compatible
    base_url: http://127.0.0.1:$UPSTREAM_PORT/v1
    max_connections: 256
  - name: upstream-stream
    type: openai-compatible
    base_url: http://127.0.0.1:$UPSTREAM_STREAM_PORT/v1
    max_connections: 256
models:
  - name: bench-model
    provider: upstream
    model: mock-gpt
  - name: bench-model-stream
    provider: upstream-stream
    model: mock-gpt
EOF
log "starting switchyard on CPU $PROXY_CPU (port $GATEWAY_PORT)"
taskset -c "$PROXY_CPU" "$BIN" serve --config "$WORK/switchyard.yaml" --log-format json \
    > "$WORK/switchyard.out" 2> "$WORK/switchyard.err" &
GATEWAY_PID=$!; PIDS+=("$GATEWAY_PID")
wait_port "$GATEWAY_PORT" "$GATEWAY_PID" "switchyard"
sleep 2
{
    echo "sw_rss_idle_kb=$(rss_kb "$GATEWAY_PID")"
    echo "sw_threads_idle=$(threads_of "$GATEWAY_PID")"
    echo "sw_cpu_ticks_idle=$(cpu_ticks "$GATEWAY_PID")"
    echo "nginx_worker_rss_idle_kb=$(rss_kb "$NGINX_WORKER_PID")"
    echo "upstream_rss_idle_kb=$(rss_kb "$UPSTREAM_PID")"
} >> "$META"
log "switchyard idle: RSS $(rss_kb "$GATEWAY_PID") kB, $(threads_of "$GATEWAY_PID") threads"

# ---------------------------------------------------------------------------------------------
# Each arm must answer 200 (and streams must end properly) before anything is measured.
check_arm() { # arm port body stream(0/1) [authorization] [path]
    local arm=$1 port=$2 body=$3 stream=$4 auth=${5:-none} path=${6:-$PATH_CHAT} out="$WORK/check-$1-$4.body" code
    code="$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
        -H "Authorization: $auth" --data-binary "@$body" "http://127.0.0.1:$port$path")" || die "curl to $arm (port $port) failed"
    [ "$code" = "200" ] || { head -c 600 "$out" >&2; echo >&2; die "$arm answered HTTP $code (stream=$stream)"; }
    if [ "$path" = "$PATH_MESSAGES" ]; then
        if [ "$stream" = 1 ]; then
            grep -q '^event: message_stop' "$out" || die "$arm Anthropic stream did not end with event: message_stop"
            echo "check_${arm}_stream_bytes=$(wc -c < "$out")" >> "$META"
        else
            python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["type"] == "message" and d["content"][0]["text"]' "$out" \
                || die "$arm returned an unexpected Anthropic message"
            echo "check_${arm}_plain_bytes=$(wc -c < "$out")" >> "$META"
        fi
    elif [ "$stream" = 1 ]; then
        grep -q '^data: \[DONE\]' "$out" || die "$arm stream did not end with data: [DONE]"
        {
            echo "check_${arm}_stream_bytes=$(wc -c < "$out")"
            echo "check_${arm}_stream_events=$(grep -c '^data: ' "$out")"
            echo "check_${arm}_stream_usage_chunks=$(grep -c '"usage":{' "$out" || true)"
            echo "check_${arm}_stream_usage_null=$(grep -c '"usage":null' "$out" || true)"
            echo "check_${arm}_stream_model=$(grep -m1 -o '"model":"[^"]*"' "$out" | head -n 1 | cut -d'"' -f4)"
        } >> "$META"
    else
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["choices"][0]["message"]["content"]' "$out" \
            || die "$arm returned an unexpected non-streaming body"
        echo "check_${arm}_plain_bytes=$(wc -c < "$out")" >> "$META"
    fi
    log "check $arm (stream=$stream, $path): HTTP 200, $(wc -c < "$out") body bytes"
}
check_arm direct "$UPSTREAM_PORT" "$BODY_PLAIN" 0
check_arm nginx "$NGINX_PORT" "$BODY_PLAIN" 0
check_arm switchyard "$GATEWAY_PORT" "$BODY_PLAIN" 0
check_arm direct "$UPSTREAM_STREAM_PORT" "$BODY_STREAM" 1
check_arm nginx "$NGINX_STREAM_PORT" "$BODY_STREAM" 1
check_arm switchyard "$GATEWAY_PORT" "$BODY_STREAM" 1
# The upstream always sends the usage chunk (the gateway asks for it anyway); a client that did
# not ask must not get it, and one that asks must.
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["stream_options"]={"include_usage":True}; open(sys.argv[2],"w").write(json.dumps(d))' \
    "$BODY_STREAM" "$WORK/chat-stream-usage.json"
check_arm switchyard_usage "$GATEWAY_PORT" "$WORK/chat-stream-usage.json" 1
grep -q '"usage":{' "$WORK/check-switchyard_usage-1.body" \
    || log "warning: switchyard did not pass the usage chunk to a client that asked for it"
[ "$(grep -c '"usage":{' "$WORK/check-switchyard-1.body" || true)" = 0 ] \
    || log "warning: switchyard passed the upstream's usage chunk to a client that did not ask for it"

# ---------------------------------------------------------------------------------------------
# wrk runs.
SW_STREAMED=0  # streamed requests the plain gateway has served (warm-ups included)

wrk_json() { # file -> the BENCH_JSON line's JSON
    local line
    line="$(grep '^BENCH_JSON ' "$1" | tail -n 1)" || true
    [ -n "$line" ] || { cat "$1" >&2; die "wrk produced no BENCH_JSON line (see $1)"; }
    printf '%s\n' "${line#BENCH_JSON }"
}
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

wrk_threads_for() { # connections -> wrk threads (1 for 1 connection)
    if [ "$1" -lt "$WRK_THREADS" ]; then echo "$1"; else echo "$WRK_THREADS"; fi
}

run_wrk() { # variant arm port connections duration tag -> writes $WORK/wrk-<tag>.txt
    local variant=$1 arm=$2 port=$3 conns=$4 duration=$5 tag=$6 threads body path=$PATH_CHAT auth="" vary="" headers=""
    threads=$(wrk_threads_for "$conns")
    body=$BODY_PLAIN
    [ "$variant" = stream ] && body=$BODY_STREAM
    case $arm in
        guarded) auth="Bearer $GUARDED_KEY" ;;
        cached | logged | semantic | guardrails) auth="Bearer bench-master-key" ;;
        anthropic)
            path=$PATH_MESSAGES
            body=$BODY_MESSAGES
            [ "$variant" = stream ] && body=$BODY_MESSAGES_STREAM
            ;;
        mcp)
            path=$PATH_MCP body=$BODY_MCP auth="Bearer bench-master-key"
            headers="Mcp-Session-Id: $MCP_SESSION|MCP-Protocol-Version: $MCP_PROTOCOL"
            ;;
        mcp_direct)
            path=$PATH_MCP body=$BODY_MCP
            headers="Mcp-Session-Id: $MCP_UPSTREAM_SESSION|MCP-Protocol-Version: $MCP_PROTOCOL"
            ;;
    esac
    if [ "$arm" = semantic ]; then
        body="$HERE/bodies/chat-semantic.json"
        vary="__N__"
    fi
    if [ "$arm" = guardrails ]; then
        # chat.json with a new order number in the user message on every request: the guardrails
        # remember the findings of texts they have read (a repeated prompt would be judged from
        # that memo), so only the system prompt repeats, as in any app's traffic.
        body="$HERE/bodies/chat-guardrails.json"
        vary="__N__"
    fi
    BENCH_HEADERS="$headers" BENCH_VARY="$vary" BENCH_AUTH="$auth" BENCH_BODY="$body" taskset -c "$LOADGEN_CPU" wrk -t"$threads" -c"$conns" -d"$duration" --timeout 5s \
        -s "$HERE/bench.lua" "http://127.0.0.1:$port$path" > "$WORK/wrk-$tag.txt" 2>&1 \
        || { cat "$WORK/wrk-$tag.txt" >&2; die "wrk failed ($tag)"; }
}

measure() { # variant arm port connections
    local variant=$1 arm=$2 port=$3 conns=$4 tag threads proxy_pid=""
    local p0=null p1=null u0 u1 proxy_ticks=null rss_after=null warm_json json cpu_json
    tag="$variant-$arm-c$conns"
    case $arm in
        nginx) proxy_pid=$NGINX_WORKER_PID ;;
        switchyard | anthropic) proxy_pid=$GATEWAY_PID ;;
        guarded) proxy_pid=$GUARDED_PID ;;
        guardrails) proxy_pid=$GUARDRAILS_PID ;;
        cached) proxy_pid=$CACHED_PID ;;
        semantic) proxy_pid=$SEMANTIC_PID ;;
        logged) proxy_pid=$LOGGED_PID ;;
        mcp) proxy_pid=$MCP_PID ;;
    esac

    threads=$(wrk_threads_for "$conns")
    run_wrk "$variant" "$arm" "$port" "$conns" "$WARMUP" "$tag-warmup"
    warm_json="$(wrk_json "$WORK/wrk-$tag-warmup.txt")"
    if [ "$arm" = switchyard ]; then
        gateway_alive
        [ "$variant" = stream ] && SW_STREAMED=$((SW_STREAMED + $(json_field "$warm_json" requests)))
    fi

    python3 "$HERE/cpusnap.py" save "$WORK/cpusnap.json"
    [ -n "$proxy_pid" ] && p0=$(cpu_ticks "$proxy_pid")
    u0=$(cpu_ticks "$UPSTREAM_PID")
    run_wrk "$variant" "$arm" "$port" "$conns" "$DURATION" "$tag"
    [ -n "$proxy_pid" ] && p1=$(cpu_ticks "$proxy_pid") && proxy_ticks=$((p1 - p0))
    u1=$(cpu_ticks "$UPSTREAM_PID")
    cpu_json="$(python3 "$HERE/cpusnap.py" diff "$WORK/cpusnap.json" --exclude "$(pid_list)")"
    [ -n "$proxy_pid" ] && rss_after=$(rss_kb "$proxy_pid")
    json="$(wrk_json "$WORK/wrk-$tag.txt")"
    if [ "$arm" = switchyard ]; then
        gateway_alive
        [ "$variant" = stream ] && SW_STREAMED=$((SW_STREAMED + $(json_field "$json" requests)))
    fi
    printf '{"variant":"%s","arm":"%s","connections":%d,"threads":%d,"proxy_cpu_ticks":%s,"upstream_cpu_ticks":%d,"proxy_rss_kb_after":%s,"cpu":%s,"wrk":%s}\n' \
        "$variant" "$arm" "$conns" "$threads" "$proxy_ticks" "$((u1 - u0))" "$rss_after" "$cpu_json" "$json" >> "$RUNS"
    log "$(python3 -c 'import json,sys
d=json.loads(sys.argv[1]); l=d["latency_us"]; e=d["errors"]; c=json.loads(sys.argv[5]); t=sys.argv[6]
cpu = ("  CPU %.0f us/req" % (int(t) / float(sys.argv[7]) * 1e6 / d["requests"])) if t != "null" and d["requests"] else ""
print("%-6s %-10s c=%-3s %9.0f req/s  p50 %.3f ms  p99 %.3f ms%s  errors %s  cpu busy %s  foreign %.2f s" % (sys.argv[2], sys.argv[3], sys.argv[4], d["rps"], l["p50"]/1000, l["p99"]/1000, cpu, e, c["cpu_busy"], c["foreign_cpu_s"]))' \
        "$json" "$variant" "$arm" "$conns" "$cpu_json" "$proxy_ticks" "$(getconf CLK_TCK)")"
}

for variant in plain stream; do
    for arm in direct nginx switchyard; do
        case "$variant/$arm" in
            plain/direct) port=$UPSTREAM_PORT ;;
            plain/nginx) port=$NGINX_PORT ;;
            stream/direct) port=$UPSTREAM_STREAM_PORT ;;
            stream/nginx) port=$NGINX_STREAM_PORT ;;
            */switchyard) port=$GATEWAY_PORT ;;
        esac
        for conns in $CONNECTIONS; do
            measure "$variant" "$arm" "$port" "$conns"
        done
    done
    if [ "$variant" = plain ]; then
        {
            echo "sw_rss_after_plain_kb=$(rss_kb "$GATEWAY_PID")"
            echo "sw_cpu_ticks_after_plain=$(cpu_ticks "$GATEWAY_PID")"
            echo "sw_threads_after_plain=$(threads_of "$GATEWAY_PID")"
        } >> "$META"
    fi
done

# At least MIN_STREAMED streamed requests through Switchyard before reading its RSS.
while [ "$SW_STREAMED" -lt "$MIN_STREAMED" ]; do
    log "switchyard has streamed $SW_STREAMED requests; topping up to $MIN_STREAMED"
    run_wrk stream switchyard "$GATEWAY_PORT" 32 "$DURATION" "stream-switchyard-topup-$SW_STREAMED"
    gateway_alive
    SW_STREAMED=$((SW_STREAMED + $(json_field "$(wrk_json "$WORK/wrk-stream-switchyard-topup-$SW_STREAMED.txt")" requests)))
done
sleep 1
{
    echo "sw_streamed_requests=$SW_STREAMED"
    echo "sw_rss_after_stream_kb=$(rss_kb "$GATEWAY_PID")"
    echo "sw_hwm_kb=$(hwm_kb "$GATEWAY_PID")"
    echo "sw_cpu_ticks_after_stream=$(cpu_ticks "$GATEWAY_PID")"
    echo "sw_threads_after_stream=$(threads_of "$GATEWAY_PID")"
    echo "nginx_worker_rss_after_kb=$(rss_kb "$NGINX_WORKER_PID")"
} >> "$META"
log "switchyard after $SW_STREAMED streamed requests: RSS $(rss_kb "$GATEWAY_PID") kB (peak $(hwm_kb "$GATEWAY_PID") kB)"

# ---------------------------------------------------------------------------------------------
# The Anthropic-client arm: POST /v1/messages (Anthropic request shape) to the plain gateway,
# whose model is served by the OpenAI-dialect upstream, so every request and answer (and every
# stream event) is translated. Same process as the plain arm; measured after the RSS readings.
check_arm anthropic "$GATEWAY_PORT" "$BODY_MESSAGES" 0 none "$PATH_MESSAGES"
check_arm anthropic "$GATEWAY_PORT" "$BODY_MESSAGES_STREAM" 1 none "$PATH_MESSAGES"
for variant in plain stream; do
    for conns in $FEATURE_CONNECTIONS; do
        measure "$variant" anthropic "$GATEWAY_PORT" "$conns"
    done
done
gateway_alive

# ---------------------------------------------------------------------------------------------
# Feature arms: further Switchyard processes on the proxy's CPU, each with its own configuration.
arm_config() { # name port access_log log_level -> writes $WORK/<name>/switchyard.yaml (server and upstream); sections follow on stdin
    local name=$1 port=$2 access_log=$3 log_level=$4
    mkdir -p "$WORK/$name"
    rm -f "$WORK/$name"/switchyard.db*
    {
        cat <<EOF
# Generated by benchmarks/run.sh
server:
  host: 127.0.0.1
  port: $port
  access_log: $access_log
  log_level: $log_level
  master_key: bench-master-key
providers:
  - name: upstream
    type: openai-compatible
    base_url: http://127.0.0.1:$UPSTREAM_PORT/v1
    max_connections: 256
EOF
        cat
    } > "$WORK/$name/switchyard.yaml"
}

start_arm() { # name port -> starts it, sets ARM_PID, waits for its port
    local name=$1 port=$2
    log "starting $name switchyard on CPU $PROXY_CPU (port $port)"
    taskset -c "$PROXY_CPU" "$BIN" serve --config "$WORK/$name/switchyard.yaml" --log-format json \
        > "$WORK/$name.out" 2> "$WORK/$name.err" &
    ARM_PID=$!; PIDS+=("$ARM_PID")
    wait_port "$port" "$ARM_PID" "$name switchyard"
}

stop_arm() { # pid
    kill "$1" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
}

cache_header() { # port body -> the x-switchyard-cache header of one request
    curl -sS -o /dev/null -D - -H 'Content-Type: application/json' -H 'Authorization: Bearer bench-master-key' \
        --data-binary "@$2" "http://127.0.0.1:$1$PATH_CHAT" | tr -d '\r' | sed -n 's/^x-switchyard-cache: //Ip'
}

# The guarded arm: the access-control stages on (a virtual key looked up and checked, a per-key
# request and token limit, a global concurrency limit, a per-key budget with cost reservation,
# an attribute rule); no guardrails (they have their own arm).
{
    cat <<EOF
models:
  - name: bench-model
    deployments: [{provider: upstream, model: mock-gpt, price: {input: 1, output: 2}}]
EOF
    cat "$HERE/guarded-policy.yaml"
} | arm_config guarded "$GUARDED_PORT" false warning
GUARDED_KEY="$("$BIN" keys create --name bench --config "$WORK/guarded/switchyard.yaml" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')" || die "could not create the guarded arm's virtual key"
start_arm guarded "$GUARDED_PORT"; GUARDED_PID=$ARM_PID
check_arm guarded "$GUARDED_PORT" "$BODY_PLAIN" 0 "Bearer $GUARDED_KEY"
code="$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$BODY_PLAIN" \
    "http://127.0.0.1:$GUARDED_PORT$PATH_CHAT")"
[ "$code" = 401 ] || die "the guarded arm answered $code without a key"
for conns in $FEATURE_CONNECTIONS; do
    measure plain guarded "$GUARDED_PORT" "$conns"
done
echo "guarded_log_errors=$(grep -c -E '"level":"(error|critical)"' "$WORK/guarded.out" || true)" >> "$META"
stop_arm "$GUARDED_PID"

# The guardrails arm: PII masking and injection on the prompt, credentials on prompt and answer,
# on the ~1 KB prompt (master key, nothing else on).
arm_config guardrails "$GUARDRAILS_PORT" false warning <<EOF
models:
  - name: bench-model
    provider: upstream
    model: mock-gpt
guardrails:
  - {name: pii, detector: pii, action: mask}
  - {name: secrets, detector: secrets, direction: both, action: mask}
  - {name: injection, detector: injection, action: block}
EOF
start_arm guardrails "$GUARDRAILS_PORT"; GUARDRAILS_PID=$ARM_PID
check_arm guardrails "$GUARDRAILS_PORT" "$BODY_PLAIN" 0 "Bearer bench-master-key"
for conns in $FEATURE_CONNECTIONS; do
    measure plain guardrails "$GUARDRAILS_PORT" "$conns"
done
echo "guardrails_log_errors=$(grep -c -E '"level":"(error|critical)"' "$WORK/guardrails.out" || true)" >> "$META"
stop_arm "$GUARDRAILS_PID"

# The cached arm: the exact response cache on. The check request stores the answer, so every
# measured request is an exact hit (non-streaming).
arm_config cached "$CACHED_PORT" false warning <<EOF
models:
  - name: bench-model
    provider: upstream
    model: mock-gpt
cache:
  ttl: 1h
EOF
start_arm cached "$CACHED_PORT"; CACHED_PID=$ARM_PID
check_arm cached "$CACHED_PORT" "$BODY_PLAIN" 0 "Bearer bench-master-key"
cache_status="$(cache_header "$CACHED_PORT" "$BODY_PLAIN")"
[ "$cache_status" = hit ] || die "the cached arm answered x-switchyard-cache: '$cache_status' instead of hit"
for conns in $FEATURE_CONNECTIONS; do
    measure plain cached "$CACHED_PORT" "$conns"
done
stop_arm "$CACHED_PID"

# The semantic arm: every request differs (a random reference number), so it is an exact miss,
# then an embedding request to the upstream's fixed embeddings answer (a unit vector, the same
# for every text) and a semantic hit on the answer the check request stored.
arm_config semantic "$SEMANTIC_PORT" false warning <<EOF
models:
  - name: bench-model
    provider: upstream
    model: mock-gpt
  - {name: embeddings, provider: upstream, model: mock-embedding}
cache:
  ttl: 1h
  semantic: {model: embeddings, threshold: 0.9}
EOF
start_arm semantic "$SEMANTIC_PORT"; SEMANTIC_PID=$ARM_PID
sed 's/__N__/1/' "$HERE/bodies/chat-semantic.json" > "$WORK/semantic/first.json"
sed 's/__N__/2/' "$HERE/bodies/chat-semantic.json" > "$WORK/semantic/second.json"
check_arm semantic "$SEMANTIC_PORT" "$WORK/semantic/first.json" 0 "Bearer bench-master-key"
sleep 0.2
cache_status="$(cache_header "$SEMANTIC_PORT" "$WORK/semantic/second.json")"
case "$cache_status" in semantic-hit*) ;; *) die "the semantic arm answered x-switchyard-cache: '$cache_status' instead of a semantic hit" ;; esac
for conns in $FEATURE_CONNECTIONS; do
    measure plain semantic "$SEMANTIC_PORT" "$conns"
done
stop_arm "$SEMANTIC_PID"

# The logged arm: full observability on: the structured access log (one JSON line per request,
# to a file), the request log's detail and redacted bodies into SQLite with every usage row, and
# every request traced (server, stage and attempt spans) and exported over OTLP/HTTP to the
# upstream nginx, which answers {} and logs one line per export.
arm_config logged "$LOGGED_PORT" true info <<EOF
models:
  - name: bench-model
    provider: upstream
    model: mock-gpt
logging:
  bodies: true
tracing:
  endpoint: http://127.0.0.1:$UPSTREAM_PORT/v1/traces
  sample_ratio: 1
EOF
start_arm logged "$LOGGED_PORT"; LOGGED_PID=$ARM_PID
check_arm logged "$LOGGED_PORT" "$BODY_PLAIN" 0 "Bearer bench-master-key"
for conns in $FEATURE_CONNECTIONS; do
    measure plain logged "$LOGGED_PORT" "$conns"
done
echo "logged_lines=$(wc -l < "$WORK/logged.out")" >> "$META"
sleep 3 # the last spans leave within the export interval
{
    echo "logged_trace_exports=$(wc -l < "$WORK/upstream/traces.log" 2>/dev/null || echo 0)"
    echo "logged_trace_export_bytes=$(awk '$2 ~ /^[0-9]+$/ {s += $2} END {print s + 0}' "$WORK/upstream/traces.log" 2>/dev/null || echo 0)"
    echo "logged_trace_export_failures=$(awk '$1 != 200' "$WORK/upstream/traces.log" 2>/dev/null | wc -l)"
} >> "$META"
stop_arm "$LOGGED_PID"

# The MCP arm: POST /mcp `tools/call` (master key) in one session opened with curl, routed to the
# upstream nginx's MCP server (Streamable HTTP, JSON answers): the session check, the federated
# name resolved to its server, access rules, the call to the upstream, an audit record per call,
# metrics. Measured as CPU per call next to the plain gateway's chat completion; then the same
# call straight to the upstream (mcp_direct), so that the upstream is shown not to be the limit.
# Outcomes other than success answer HTTP 200 with a JSON-RPC error, which wrk would count as
# answers: the gateway's switchyard_mcp_calls_total counter must show only successes.
arm_config mcp "$MCP_PORT" false warning <<EOF
models:
  - name: bench-model
    provider: upstream
    model: mock-gpt
mcp:
  servers:
    - {name: bench, url: "http://127.0.0.1:$UPSTREAM_MCP_PORT/mcp", prefix: bench}
EOF
mkdir -p "$WORK/mcp"
start_arm mcp "$MCP_PORT"; MCP_PID=$ARM_PID

mcp_post() { # name port body (JSON, or @file) [session] -> echoes the HTTP status; body and headers in $WORK/mcp/<name>.*
    local name=$1 port=$2 body=$3 session=${4:-} args=()
    args=(-sS -o "$WORK/mcp/$name.body" -D "$WORK/mcp/$name.headers" -w '%{http_code}' --max-time 10
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
    [ "$port" = "$MCP_PORT" ] && args+=(-H 'Authorization: Bearer bench-master-key')
    [ -n "$session" ] && args+=(-H "Mcp-Session-Id: $session" -H "MCP-Protocol-Version: $MCP_PROTOCOL")
    case $body in
        @*) args+=(--data-binary "$body") ;;
        *) args+=(--data "$body") ;;
    esac
    curl "${args[@]}" "http://127.0.0.1:$port$PATH_MCP" || die "curl to /mcp on port $port failed ($name)"
}
mcp_session_of() { tr -d '\r' < "$WORK/mcp/$1.headers" | sed -n 's/^mcp-session-id: //Ip' | head -n 1; }
MCP_INIT='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"'"$MCP_PROTOCOL"'","capabilities":{},"clientInfo":{"name":"switchyard-bench","version":"1"}}}'
MCP_INITIALIZED='{"jsonrpc":"2.0","method":"notifications/initialized"}'

# The upstream on its own: initialize, then the call wrk will send.
code="$(mcp_post direct-init "$UPSTREAM_MCP_PORT" "$MCP_INIT")"
[ "$code" = 200 ] || die "the upstream's MCP server answered initialize with HTTP $code"
MCP_UPSTREAM_SESSION="$(mcp_session_of direct-init)"
[ -n "$MCP_UPSTREAM_SESSION" ] || die "the upstream's MCP server sent no Mcp-Session-Id"
code="$(mcp_post direct-call "$UPSTREAM_MCP_PORT" "@$BODY_MCP" "$MCP_UPSTREAM_SESSION")"
[ "$code" = 200 ] || die "the upstream's MCP server answered tools/call with HTTP $code"
cmp -s "$WORK/mcp/direct-call.body" "$WORK/upstream/files/mcp-call.json" || die "the upstream's MCP server gave a wrong tools/call answer"
echo "check_mcp_direct_plain_bytes=$(wc -c < "$WORK/mcp/direct-call.body")" >> "$META"

# Through the gateway: a session, the federated tool list, and the call answered with the
# upstream's result (under the client's JSON-RPC id); a call without the session is refused.
code="$(mcp_post init "$MCP_PORT" "$MCP_INIT")"
[ "$code" = 200 ] || { cat "$WORK/mcp/init.body" >&2; die "the MCP arm answered initialize with HTTP $code"; }
MCP_SESSION="$(mcp_session_of init)"
[ -n "$MCP_SESSION" ] || die "the MCP arm sent no Mcp-Session-Id"
code="$(mcp_post initialized "$MCP_PORT" "$MCP_INITIALIZED" "$MCP_SESSION")"
[ "$code" = 202 ] || die "the MCP arm answered notifications/initialized with HTTP $code"
code="$(mcp_post list "$MCP_PORT" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' "$MCP_SESSION")"
[ "$code" = 200 ] || die "the MCP arm answered tools/list with HTTP $code"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [t["name"] for t in d["result"]["tools"]] == ["bench_lookup"], d' \
    "$WORK/mcp/list.body" || die "the MCP arm did not list the upstream's tool as bench_lookup"
code="$(mcp_post call "$MCP_PORT" "@$BODY_MCP" "$MCP_SESSION")"
[ "$code" = 200 ] || { cat "$WORK/mcp/call.body" >&2; die "the MCP arm answered tools/call with HTTP $code"; }
python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); u=json.load(open(sys.argv[2])); r=json.load(open(sys.argv[3]))
assert "error" not in d, d
assert d["id"] == r["id"] and d["result"] == u["result"], (d, u)' \
    "$WORK/mcp/call.body" "$WORK/upstream/files/mcp-call.json" "$BODY_MCP" \
    || die "the MCP arm's tools/call answer is not the upstream's result"
code="$(mcp_post no-session "$MCP_PORT" "@$BODY_MCP")"
[ "$code" = 400 ] || die "the MCP arm answered a tools/call without a session with HTTP $code (expected 400)"
echo "check_mcp_plain_bytes=$(wc -c < "$WORK/mcp/call.body")" >> "$META"
log "check mcp: session opened, bench_lookup listed, tools/call answered with the upstream's result"

for conns in $FEATURE_CONNECTIONS; do
    measure plain mcp "$MCP_PORT" "$conns"
    measure plain mcp_direct "$UPSTREAM_MCP_PORT" "$conns"
done
curl -sS --max-time 10 "http://127.0.0.1:$MCP_PORT/metrics" > "$WORK/mcp/metrics.txt" || die "could not read the MCP arm's metrics"
python3 - "$WORK/mcp/metrics.txt" >> "$META" <<'PY' || die "could not read switchyard_mcp_calls_total"
import re, sys
calls = {}
for line in open(sys.argv[1]):
    m = re.match(r'switchyard_mcp_calls_total\{(.*)\} ([0-9.e+]+)$', line.strip())
    if m:
        outcome = re.search(r'outcome="([^"]*)"', m.group(1)).group(1)
        calls[outcome] = calls.get(outcome, 0) + int(float(m.group(2)))
print("mcp_calls_success=%d" % calls.get("success", 0))
print("mcp_calls_failed=%d" % sum(v for k, v in calls.items() if k != "success"))
PY
echo "mcp_log_errors=$(grep -c -E '"level":"(error|critical)"' "$WORK/mcp.out" || true)" >> "$META"
stop_arm "$MCP_PID"

# ---------------------------------------------------------------------------------------------
# Time to first token: sequential streams over one keep-alive connection, per arm.
for arm in direct nginx switchyard; do
    case $arm in
        direct) port=$UPSTREAM_STREAM_PORT ;;
        nginx) port=$NGINX_STREAM_PORT ;;
        switchyard) port=$GATEWAY_PORT ;;
    esac
    taskset -c "$LOADGEN_CPU" python3 "$HERE/ttft.py" --port "$port" --body "$BODY_STREAM" -n "$TTFT_N" \
        --label "$arm" --out "$WORK/ttft-$arm.json" > /dev/null || die "TTFT probe failed for $arm"
    [ "$arm" = switchyard ] && gateway_alive
    log "ttft $arm: $(cat "$WORK/ttft-$arm.json")"
done

{
    echo "sw_rss_final_kb=$(rss_kb "$GATEWAY_PID")"
    echo "sw_cpu_ticks_final=$(cpu_ticks "$GATEWAY_PID")"
    echo "sw_log_lines=$(wc -l < "$WORK/switchyard.out")"
    echo "sw_log_errors=$(grep -c -E '"level":"(error|critical)"' "$WORK/switchyard.out" || true)"
    echo "sw_log_warnings=$(grep -c '"level":"warning"' "$WORK/switchyard.out" || true)"
    echo "sw_stderr_lines=$(wc -l < "$WORK/switchyard.err")"
    echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
    python3 "$HERE/cpusnap.py" save "$WORK/cpusnap.json"
    sleep 1
    echo "idle_check_end=$(python3 "$HERE/cpusnap.py" diff "$WORK/cpusnap.json" --exclude "$(pid_list)")"
    echo "finished_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >> "$META"
cp "$WORK/switchyard.out" "$WORK/switchyard.log.keep" 2>/dev/null || true

# Guardrail cost in process (p50/p99 µs per KB of prompt), on the proxy's CPU.
log "measuring guardrail cost per KB"
taskset -c "$PROXY_CPU" "$BIN" guardrails bench --json --sizes 1,4,16 --iterations 3000 > "$WORK/guardrails.json" \
    || die "switchyard guardrails bench failed"
python3 "$HERE/report.py" --work "$WORK" --out-json "$OUT_JSON" --out-md "$OUT_MD"
log "wrote $OUT_JSON and $OUT_MD"
