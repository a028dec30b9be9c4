#!/usr/bin/env python3
"""Assembles benchmarks/results/latest.json and benchmarks/RESULTS.md from a run's work folder.

benchmarks/run.sh calls it at the end; it can be rerun on a kept work folder:
    python3 benchmarks/report.py --work benchmarks/.work --out-json benchmarks/results/latest.json \
        --out-md benchmarks/RESULTS.md
Stdlib only.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

ARMS = ["direct", "nginx", "switchyard"]
VARIANTS = ["plain", "stream"]
VARIANT_TITLE = {"plain": "Non-streaming", "stream": "Streaming"}
SHORT = {"plain": "json", "stream": "sse"}

# Feature arms: the plain gateway with one feature on, compared by CPU per request with the plain
# arm at the same variant and connections. Limits are the targets (+25 %, guardrails +35 %).
FEATURES = [
    # arm, title, CPU limit over plain (fraction), description
    ("guarded", "guarded", 0.25, "virtual key (SQLite lookup of its keyed hash), per-key request and token limits, a global "
     "concurrency limit, a per-key budget with cost reservation and settlement, an attribute access rule"),
    ("guardrails", "guardrails", 0.35, "PII masking and injection on the prompt, credentials on prompt and answer "
     "(the ~1 KB prompt; master key)"),
    ("logged", "logged", 0.25, "JSON access log to a file, the request log's detail and redacted bodies into SQLite "
     "(`logging.bodies: true`), every request traced and exported over OTLP/HTTP"),
    ("semantic", "semantic hit", 0.25, "semantic cache: each request an exact miss, an embedding request to the upstream "
     "and a semantic hit"),
    ("anthropic", "Anthropic client", 0.25, "POST /v1/messages (Anthropic request) on the OpenAI-dialect upstream: "
     "request, answer and stream events translated"),
    ("cached", "exact cache hit", None, "exact response cache, every request a hit (target: at most half of plain)"),
    ("mcp", "MCP tools/call", None, "POST /mcp `tools/call` in one session (master key), routed to one Streamable HTTP "
     "MCP server (the upstream nginx): session check, federated name resolved to its server, access rules, the upstream "
     "call, an audit record per call, metrics; compared with a plain chat completion (no target)"),
]
# Arms reported as CPU per request next to plain without a pass/fail target.
NO_TARGET = {"mcp"}

# Targets from issue 15 (measured with a fast upstream, release build, in one run).
TARGET_CONNECTIONS = 32
TARGET_THROUGHPUT_RATIO = 0.25     # Switchyard >= 0.25 x nginx rps at 32 connections, json and sse
TARGET_CPU_US = 100.0              # CPU per non-streaming pass-through request
TARGET_P50_DELTA_MS = 0.15         # p50 at 1 connection <= nginx p50 + 0.15 ms
TARGET_CACHE_HIT_FRACTION = 0.5    # a cache hit <= half the plain CPU per request
TARGET_RSS_IDLE_MB = 40.0
TARGET_RSS_STREAMED_MB = 150.0
TARGET_STREAMS = 20000
VALID_FACTOR_DEFAULT = 5.0         # direct rps >= 5 x the gateway's rps at 32 connections
FOREIGN_CPU_NOTE_S = 0.2           # flag runs where other processes used more CPU than this


def sh(command):
    try:
        out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
        return (out.stdout + out.stderr).strip()
    except Exception as error:  # noqa: BLE001 - report whatever went wrong
        return "unavailable (%s)" % error


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                key, _, value = line.partition("=")
                meta[key] = value
    return meta


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mib(kb):
    return round(int(kb) / 1024.0, 1) if kb not in (None, "") else None


def meta_int(meta, key):
    value = meta.get(key, "")
    return int(value) if value.strip().lstrip("-").isdigit() else None


def conditions(meta):
    clk = int(meta.get("clk_tck", "100"))
    binary = meta.get("binary", "")
    try:
        binary_mtime = datetime.datetime.fromtimestamp(os.path.getmtime(binary), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OSError:
        binary_mtime = None
    dirty = meta.get("git_dirty_source_files", "?")
    arms = ARMS + ["switchyard_usage", "anthropic", "mcp", "mcp_direct"]
    return {
        "date": meta.get("started_at"),
        "finished_at": meta.get("finished_at"),
        "cpu_model": cpu_model(),
        "cpus_online": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "os": sh(". /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\""),
        "pinning": {
            "load_generator_and_upstream_cpu": int(meta.get("loadgen_cpu", 0)),
            "proxy_under_test_cpu": int(meta.get("proxy_cpu", 1)),
            "description": "wrk, the TTFT probe and the fixed-response upstream (nginx, 1 worker) on CPU %s (taskset -c %s); "
            "the proxy under test (nginx worker or switchyard) on CPU %s (taskset -c %s)"
            % (meta.get("loadgen_cpu"), meta.get("loadgen_cpu"), meta.get("proxy_cpu"), meta.get("proxy_cpu")),
        },
        "upstream": "nginx (separate instance, 1 worker) answering every POST with a fixed file written by upstream.py: "
        "a %s-byte chat.completion, a %s-byte SSE stream (role chunk, %s content chunks x %s chars, finish chunk, usage "
        "chunk, [DONE]), a fixed embeddings answer and {} for OTLP trace exports; on a third port an MCP server "
        "(Streamable HTTP, POST /mcp) answering initialize, tools/list and tools/call (a %s-byte result) with fixed "
        "JSON-RPC files" % (
            meta.get("upstream_chat_bytes"), meta.get("upstream_stream_bytes"), meta.get("stream_chunks"),
            meta.get("stream_chunk_bytes"), meta.get("upstream_mcp_call_bytes")),
        "wrk_version": sh("wrk -v 2>&1 | head -n 1"),
        "wrk_threads": "1 for 1 connection, %s otherwise" % meta.get("wrk_threads"),
        "nginx_version": sh("%s -v 2>&1" % meta.get("nginx_bin", "nginx")).replace("nginx version: ", ""),
        "swift_version": sh("swift --version 2>&1 | head -n 1"),
        "switchyard_commit": meta.get("git_head", "unknown"),
        "switchyard_uncommitted_source_files": int(dirty) if dirty.isdigit() else dirty,
        "switchyard_binary": binary,
        "switchyard_binary_mtime": binary_mtime,
        "build_config": meta.get("build_config"),
        "switchyard_access_log": False,
        "switchyard_log_level": "warning",
        "switchyard_upstream_max_connections": 256,
        "nginx": "1 worker, upstream keepalive 256, proxy_http_version 1.1, Connection \"\", proxy_buffering off, access_log off",
        "duration_per_run": meta.get("duration"),
        "warmup_per_run": (meta.get("warmup") or "?") + " (discarded)",
        "connections": [int(c) for c in meta.get("connections", "").split()],
        "feature_connections": [int(c) for c in meta.get("feature_connections", "").split()],
        "request_body_bytes": {"plain": meta_int(meta, "body_bytes_plain"), "stream": meta_int(meta, "body_bytes_stream"),
                               "anthropic": meta_int(meta, "body_bytes_messages"), "mcp": meta_int(meta, "body_bytes_mcp")},
        "stream_shape": "%s content chunks x %s chars (+ role, finish and usage chunks, [DONE])"
        % (meta.get("stream_chunks"), meta.get("stream_chunk_bytes")),
        "response_body_bytes": {
            arm: {
                "plain": meta_int(meta, "check_%s_plain_bytes" % arm),
                "stream": meta_int(meta, "check_%s_stream_bytes" % arm),
                "stream_events": meta_int(meta, "check_%s_stream_events" % arm),
                "stream_usage_chunks": meta_int(meta, "check_%s_stream_usage_chunks" % arm),
                "stream_usage_null_fields": meta_int(meta, "check_%s_stream_usage_null" % arm),
                "stream_model_field": meta.get("check_%s_stream_model" % arm),
            }
            for arm in arms
        },
        "ttft_requests_per_arm": meta_int(meta, "ttft_n") or 0,
        "min_streamed": meta_int(meta, "min_streamed") or TARGET_STREAMS,
        "valid_factor": float(meta.get("valid_factor") or VALID_FACTOR_DEFAULT),
        "clk_tck": clk,
        "loadavg_start": meta.get("loadavg_start"),
        "loadavg_end": meta.get("loadavg_end"),
        "idle_check_start": json.loads(meta["idle_check_start"]) if meta.get("idle_check_start") else None,
        "idle_check_end": json.loads(meta["idle_check_end"]) if meta.get("idle_check_end") else None,
    }


def load_runs(path, clk):
    runs = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            raw = json.loads(line)
            wrk = raw["wrk"]
            errors = wrk["errors"]
            socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
            lat = wrk["latency_us"]
            upstream_ticks = raw.get("upstream_cpu_ticks", raw.get("mock_cpu_ticks", 0))
            run = {
                "variant": raw["variant"],
                "arm": raw["arm"],
                "connections": raw["connections"],
                "wrk_threads": raw["threads"],
                "requests": wrk["requests"],
                "duration_s": round(wrk["duration_s"], 3),
                "rps": round(wrk["rps"], 1),
                "latency_ms": {k: round(lat[k] / 1000.0, 3) for k in ("p50", "p90", "p99", "p999", "max", "mean", "min")},
                "non_2xx": errors["status"],
                "socket_errors": errors,
                "socket_errors_total": socket_errors,
                "bytes_per_response": round(wrk["bytes"] / wrk["requests"]) if wrk["requests"] else None,
                "upstream_cpu_s": round(upstream_ticks / clk, 2),
                "upstream_cpu_utilisation": round(upstream_ticks / clk / wrk["duration_s"], 2) if wrk["duration_s"] else None,
                "cpu_busy": raw.get("cpu", {}).get("cpu_busy"),
                "foreign_cpu_s": raw.get("cpu", {}).get("foreign_cpu_s"),
                "foreign_processes": raw.get("cpu", {}).get("foreign"),
            }
            if raw["proxy_cpu_ticks"] is not None:
                cpu_s = raw["proxy_cpu_ticks"] / clk
                run["proxy_cpu_s"] = round(cpu_s, 2)
                run["proxy_cpu_utilisation"] = round(cpu_s / wrk["duration_s"], 2)
                run["proxy_cpu_us_per_request"] = round(cpu_s * 1e6 / wrk["requests"], 1) if wrk["requests"] else None
                run["proxy_rss_mib_after"] = mib(raw["proxy_rss_kb_after"])
            runs.append(run)
    return runs


def find(runs, variant, arm, connections):
    for run in runs:
        if run["variant"] == variant and run["arm"] == arm and run["connections"] == connections:
            return run
    return None


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def fmt(value, digits=2, suffix=""):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return ("%." + str(digits) + "f%s") % (value, suffix)
    return "%s%s" % (value, suffix)


def pct(value):
    return "n/a" if value is None else "%+.0f%%" % (value * 100)


SATURATED_PROXY = 0.95   # the proxy's core at least this busy ...
IDLE_LOADGEN = 0.50      # ... while the load generator's core (wrk + upstream) is at most this busy


def validity(runs, connections, factor, pinning):
    """The upstream must never be the bottleneck, per variant at 32 connections: the direct arm reached
    factor x the gateway's rps, or, failing that, the gateway's run itself shows that its core was the limit:
    the proxy's core saturated while the core of wrk and the upstream was at most half busy (a fast gateway
    can pass the upstream's reach divided by the factor and still be the only bottleneck)."""
    c = TARGET_CONNECTIONS if TARGET_CONNECTIONS in connections else (max(connections) if connections else None)
    checks, reasons = [], []
    for variant in VARIANTS:
        d, s = find(runs, variant, "direct", c), find(runs, variant, "switchyard", c)
        if not (d and s):
            reasons.append("%s: no direct or switchyard run at %s connections" % (SHORT[variant], c))
            continue
        r = ratio(d["rps"], s["rps"])
        busy = s.get("cpu_busy") or {}
        proxy = busy.get("cpu%d" % pinning["proxy_under_test_cpu"])
        loadgen = busy.get("cpu%d" % pinning["load_generator_and_upstream_cpu"])
        by_ratio = r is not None and r >= factor
        by_saturation = proxy is not None and loadgen is not None and proxy >= SATURATED_PROXY and loadgen <= IDLE_LOADGEN
        ok = by_ratio or by_saturation
        checks.append({"variant": variant, "connections": c, "direct_rps": d["rps"], "switchyard_rps": s["rps"],
                       "direct_over_switchyard": r, "required": factor, "proxy_cpu_busy": proxy, "loadgen_cpu_busy": loadgen,
                       "by": "ratio" if by_ratio else ("saturation" if by_saturation else None), "ok": ok})
        if not ok:
            reasons.append("%s at %d connections: direct %.0f req/s is only %.2fx the gateway's %.0f req/s (needs >= %.0fx), "
                           "and the gateway's core was not saturated with the load generator's half idle (%s / %s busy), "
                           "so the upstream or the load generator, not the gateway, may be the limit" % (
                               SHORT[variant], c, d["rps"], r or 0, s["rps"], factor, fmt(proxy), fmt(loadgen)))
    return {"valid": not reasons, "reasons": reasons, "checks": checks}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--out-json", required=True)
    parser.add_argument("--out-md", required=True)
    args = parser.parse_args()

    meta = read_meta(os.path.join(args.work, "meta.txt"))
    cond = conditions(meta)
    clk = cond["clk_tck"]
    runs = load_runs(os.path.join(args.work, "runs.jsonl"), clk)

    ttft = {}
    for arm in ARMS:
        path = os.path.join(args.work, "ttft-%s.json" % arm)
        if os.path.exists(path):
            with open(path) as f:
                ttft[arm] = json.load(f)

    guardrails = []
    path = os.path.join(args.work, "guardrails.json")
    if os.path.exists(path):
        with open(path) as f:
            guardrails = json.load(f)

    connections = sorted({run["connections"] for run in runs if run["arm"] in ARMS})
    valid = validity(runs, connections, cond["valid_factor"], cond["pinning"])

    ratios = []
    for variant in VARIANTS:
        for c in connections:
            d, n, s = (find(runs, variant, arm, c) for arm in ARMS)
            if not (d and n and s):
                continue
            ratios.append({
                "variant": variant,
                "connections": c,
                "switchyard_over_nginx": ratio(s["rps"], n["rps"]),
                "switchyard_over_direct": ratio(s["rps"], d["rps"]),
                "nginx_over_direct": ratio(n["rps"], d["rps"]),
                "direct_over_switchyard": ratio(d["rps"], s["rps"]),
                "p50_delta_vs_nginx_ms": round(s["latency_ms"]["p50"] - n["latency_ms"]["p50"], 3),
                "cpu_us_per_request_switchyard": s.get("proxy_cpu_us_per_request"),
                "cpu_us_per_request_nginx": n.get("proxy_cpu_us_per_request"),
            })

    # Feature arms against the plain gateway: CPU per request, ratio, throughput and latency.
    features = []
    for arm, title, limit, _ in FEATURES:
        for variant in VARIANTS:
            for c in sorted({r["connections"] for r in runs if r["arm"] == arm and r["variant"] == variant}):
                g, s = find(runs, variant, arm, c), find(runs, variant, "switchyard", c)
                if not g:
                    continue
                cpu_g, cpu_s = g.get("proxy_cpu_us_per_request"), (s or {}).get("proxy_cpu_us_per_request")
                over = round(cpu_g / cpu_s - 1, 3) if cpu_g is not None and cpu_s else None
                features.append({
                    "arm": arm, "title": title, "variant": variant, "connections": c,
                    "rps": g["rps"], "p50_ms": g["latency_ms"]["p50"], "p99_ms": g["latency_ms"]["p99"],
                    "plain_rps": (s or {}).get("rps"),
                    "plain_p50_ms": s["latency_ms"]["p50"] if s else None,
                    "cpu_us_per_request": cpu_g, "plain_cpu_us_per_request": cpu_s,
                    "cpu_over_plain": over,
                    "cpu_limit_over_plain": limit if arm != "cached" else TARGET_CACHE_HIT_FRACTION - 1,
                })

    # The MCP path: the gateway's /mcp next to the same call straight to the upstream's MCP server.
    mcp = []
    for c in sorted({r["connections"] for r in runs if r["arm"] == "mcp"}):
        g, d, s = find(runs, "plain", "mcp", c), find(runs, "plain", "mcp_direct", c), find(runs, "plain", "switchyard", c)
        mcp.append({
            "connections": c, "rps": g["rps"], "p50_ms": g["latency_ms"]["p50"], "p99_ms": g["latency_ms"]["p99"],
            "cpu_us_per_call": g.get("proxy_cpu_us_per_request"),
            "plain_cpu_us_per_request": (s or {}).get("proxy_cpu_us_per_request"),
            "direct_rps": (d or {}).get("rps"), "direct_p50_ms": d["latency_ms"]["p50"] if d else None,
            "direct_over_gateway": ratio((d or {}).get("rps"), g["rps"]),
        })
    mcp_calls = {"success": meta_int(meta, "mcp_calls_success"), "failed": meta_int(meta, "mcp_calls_failed")}

    ticks = lambda key: meta_int(meta, key)  # noqa: E731
    sw_cpu_idle, sw_cpu_plain, sw_cpu_stream, sw_cpu_final = (
        ticks("sw_cpu_ticks_idle"), ticks("sw_cpu_ticks_after_plain"), ticks("sw_cpu_ticks_after_stream"), ticks("sw_cpu_ticks_final"))
    process = {
        "rss_mib_idle": mib(meta.get("sw_rss_idle_kb")),
        "rss_mib_after_plain_load": mib(meta.get("sw_rss_after_plain_kb")),
        "rss_mib_after_streamed": mib(meta.get("sw_rss_after_stream_kb")),
        "streamed_requests_before_rss_read": int(meta.get("sw_streamed_requests", 0)),
        "rss_mib_peak": mib(meta.get("sw_hwm_kb")),
        "rss_mib_final": mib(meta.get("sw_rss_final_kb")),
        "cpu_s_at_idle": round(sw_cpu_idle / clk, 2) if sw_cpu_idle is not None else None,
        "cpu_s_after_plain_load": round(sw_cpu_plain / clk, 2) if sw_cpu_plain is not None else None,
        "cpu_s_after_stream_load": round(sw_cpu_stream / clk, 2) if sw_cpu_stream is not None else None,
        "cpu_s_final": round(sw_cpu_final / clk, 2) if sw_cpu_final is not None else None,
        "threads_idle": meta_int(meta, "sw_threads_idle"),
        "threads_after_load": meta_int(meta, "sw_threads_after_stream"),
        "log_lines": int(meta.get("sw_log_lines", 0)),
        "log_warnings": int(meta.get("sw_log_warnings", 0)),
        "log_errors": int(meta.get("sw_log_errors", 0)),
        "stderr_lines": int(meta.get("sw_stderr_lines", 0)),
        "nginx_worker_rss_mib_idle": mib(meta.get("nginx_worker_rss_idle_kb")),
        "nginx_worker_rss_mib_after": mib(meta.get("nginx_worker_rss_after_kb")),
        "logged_trace_exports": meta_int(meta, "logged_trace_exports"),
        "logged_trace_export_bytes": meta_int(meta, "logged_trace_export_bytes"),
        "logged_trace_export_failures": meta_int(meta, "logged_trace_export_failures"),
    }

    # Targets (issue 15).
    targets = []

    def add(name, target, measured, ok, gap):
        status = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        targets.append({"name": name, "target": target, "measured": measured, "status": status, "gap": gap})

    for variant in VARIANTS:
        r = next((x for x in ratios if x["variant"] == variant and x["connections"] == TARGET_CONNECTIONS), None)
        name = "%s rps at %d connections, Switchyard / nginx" % (SHORT[variant], TARGET_CONNECTIONS)
        if r and r["switchyard_over_nginx"] is not None:
            v = r["switchyard_over_nginx"]
            add(name, ">= %.2fx" % TARGET_THROUGHPUT_RATIO, "%.3fx" % v, v >= TARGET_THROUGHPUT_RATIO,
                "%+.3fx" % (v - TARGET_THROUGHPUT_RATIO))
        else:
            add(name, ">= %.2fx" % TARGET_THROUGHPUT_RATIO, "not measured", None, "")
    s = find(runs, "plain", "switchyard", TARGET_CONNECTIONS)
    if s and s.get("proxy_cpu_us_per_request") is not None:
        v = s["proxy_cpu_us_per_request"]
        add("CPU per non-streaming pass-through request (%d connections)" % TARGET_CONNECTIONS, "<= %.0f µs" % TARGET_CPU_US,
            "%.1f µs" % v, v <= TARGET_CPU_US, "%+.1f µs" % (v - TARGET_CPU_US))
    for variant in VARIANTS:
        s, n = find(runs, variant, "switchyard", 1), find(runs, variant, "nginx", 1)
        if s and n:
            delta = s["latency_ms"]["p50"] - n["latency_ms"]["p50"]
            add("%s p50 at 1 connection <= nginx p50 + %.2f ms" % (SHORT[variant], TARGET_P50_DELTA_MS),
                "<= %.3f ms" % (n["latency_ms"]["p50"] + TARGET_P50_DELTA_MS),
                "%.3f ms (nginx %.3f, %+.3f)" % (s["latency_ms"]["p50"], n["latency_ms"]["p50"], delta),
                delta <= TARGET_P50_DELTA_MS, "%+.3f ms" % (delta - TARGET_P50_DELTA_MS))
    for arm, title, limit, _ in FEATURES:
        if arm in NO_TARGET:
            continue
        rows = [f for f in features if f["arm"] == arm and f["connections"] == TARGET_CONNECTIONS]
        for f in rows:
            if f["cpu_over_plain"] is None:
                continue
            label = "%s (%s, %d conns)" % (title, SHORT[f["variant"]], f["connections"])
            measured = "%.1f vs %.1f µs (%s)" % (f["cpu_us_per_request"], f["plain_cpu_us_per_request"], pct(f["cpu_over_plain"]))
            if arm == "cached":
                frac = f["cpu_us_per_request"] / f["plain_cpu_us_per_request"]
                add("CPU per request, %s <= %.0f%% of plain" % (label, TARGET_CACHE_HIT_FRACTION * 100),
                    "<= %.2fx plain" % TARGET_CACHE_HIT_FRACTION, measured + ", %.2fx" % frac,
                    frac <= TARGET_CACHE_HIT_FRACTION, "%+.2fx" % (frac - TARGET_CACHE_HIT_FRACTION))
            else:
                add("CPU per request, %s over plain" % label, "<= +%.0f%%" % (limit * 100), measured,
                    f["cpu_over_plain"] <= limit, "%+.0f pp" % ((f["cpu_over_plain"] - limit) * 100))
    if process["rss_mib_idle"] is not None:
        v = process["rss_mib_idle"]
        add("RSS idle (2 s after start)", "<= %.0f MiB" % TARGET_RSS_IDLE_MB, "%.1f MiB" % v,
            v <= TARGET_RSS_IDLE_MB, "%+.1f MiB" % (v - TARGET_RSS_IDLE_MB))
    if process["rss_mib_after_streamed"] is not None:
        v = process["rss_mib_after_streamed"]
        n = process["streamed_requests_before_rss_read"]
        ok = v <= TARGET_RSS_STREAMED_MB if n >= TARGET_STREAMS else None
        add("RSS after %d streams" % n, "<= %.0f MiB after %d" % (TARGET_RSS_STREAMED_MB, TARGET_STREAMS), "%.1f MiB" % v,
            ok, "%+.1f MiB" % (v - TARGET_RSS_STREAMED_MB))

    # Anomalies worth a reader's attention.
    anomalies = []
    for run in runs:
        if run["non_2xx"] or run["socket_errors_total"]:
            anomalies.append("%s/%s/c%d: %d non-2xx, socket errors %s" % (
                run["variant"], run["arm"], run["connections"], run["non_2xx"], run["socket_errors"]))
    if process["log_errors"]:
        anomalies.append("switchyard logged %d error-level lines (see benchmarks/.work/switchyard.out)" % process["log_errors"])
    if process["stderr_lines"]:
        anomalies.append("switchyard wrote %d lines to stderr" % process["stderr_lines"])
    for key in ("guarded_log_errors", "guardrails_log_errors", "mcp_log_errors"):
        if meta_int(meta, key):
            anomalies.append("%s arm logged %s error-level lines" % (key.split("_")[0], meta[key]))
    if process["logged_trace_exports"] == 0:
        anomalies.append("the logged arm exported no traces to the upstream's /v1/traces")
    if process["logged_trace_export_failures"]:
        anomalies.append("%d trace exports were not answered 200" % process["logged_trace_export_failures"])
    if mcp_calls["failed"]:
        anomalies.append("the MCP arm's gateway counted %d calls that did not succeed (JSON-RPC errors answer HTTP 200, "
                         "so wrk counted them as answers)" % mcp_calls["failed"])
    for x in mcp:
        if x["direct_over_gateway"] is not None and x["direct_over_gateway"] < cond["valid_factor"]:
            anomalies.append("MCP at %d connections: the upstream's MCP server answered directly only %.1fx the gateway's "
                             "calls/s (< %.0fx), so it may have limited the MCP arm" % (
                                 x["connections"], x["direct_over_gateway"], cond["valid_factor"]))
    bodies = cond["response_body_bytes"]
    if bodies["switchyard"]["stream_usage_chunks"]:
        anomalies.append("the gateway passed the upstream's usage chunk to a client that did not ask for it "
                         "(%d usage objects in its stream)" % bodies["switchyard"]["stream_usage_chunks"])
    if bodies["switchyard_usage"]["stream_usage_chunks"] == 0:
        anomalies.append("the gateway dropped the usage chunk for a client that asked for it (stream_options.include_usage)")
    start = cond["idle_check_start"]
    if start and not start.get("idle"):
        anomalies.append("the machine was not idle when the run started (after waiting %s s): %s" % (
            start.get("waited_s"), start.get("foreign")))
    for run in runs:
        if run["foreign_cpu_s"] and run["foreign_cpu_s"] > FOREIGN_CPU_NOTE_S:
            anomalies.append("%s/%s/c%d: processes outside the benchmark used %.2f CPU-s during the run: %s" % (
                run["variant"], run["arm"], run["connections"], run["foreign_cpu_s"],
                ", ".join("%s(%s)" % (p["comm"], p["cpu_s"]) for p in run["foreign_processes"][:4])))

    result = {
        "schema": 2,
        "valid": valid["valid"],
        "invalid_reasons": valid["reasons"],
        "validity_checks": valid["checks"],
        "conditions": cond,
        "runs": runs,
        "ratios": ratios,
        "features": features,
        "mcp": mcp,
        "mcp_calls": mcp_calls,
        "ttft": ttft,
        "switchyard_process": process,
        "guardrail_cost": guardrails,
        "targets": targets,
        "anomalies": anomalies,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out_json)), exist_ok=True)
    with open(args.out_json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    with open(args.out_md, "w") as f:
        f.write(markdown(result))
    if not valid["valid"]:
        print("INVALID RUN: " + "; ".join(valid["reasons"]))
    for t in targets:
        print("%-4s %s: %s (target %s; %s)" % (t["status"], t["name"], t["measured"], t["target"], t["gap"]))
    for a in anomalies:
        print("NOTE %s" % a)


def markdown(r):
    c = r["conditions"]
    p = r["switchyard_process"]
    out = []
    w = out.append
    w("# Switchyard benchmark results\n")
    if not r["valid"]:
        w("**INVALID RUN: the upstream or the load generator, not the gateway, may have been the bottleneck. "
          + " ".join(x + "." for x in r["invalid_reasons"]) + " Do not quote these ratios.**\n")
    else:
        def check(x):
            if x["by"] == "ratio":
                return "%s: direct %.1fx" % (SHORT[x["variant"]], x["direct_over_switchyard"])
            return "%s: direct %.1fx, but the gateway's core %.0f%% busy and the load generator's %.0f%%" % (
                SHORT[x["variant"]], x["direct_over_switchyard"], x["proxy_cpu_busy"] * 100, x["loadgen_cpu_busy"] * 100)
        w("Valid run: at %d connections the direct arm reached at least %.0fx the gateway's requests/s, or the gateway's "
          "core was saturated (>= %.0f%% busy) while the core of wrk and the upstream was at most %.0f%% busy (%s), so the "
          "upstream was not the bottleneck.\n" % (TARGET_CONNECTIONS, c["valid_factor"], SATURATED_PROXY * 100, IDLE_LOADGEN * 100,
                                                   "; ".join(check(x) for x in r["validity_checks"])))
    w("Generated by `benchmarks/run.sh` (see `benchmarks/README.md`); machine-readable copy: "
      "`benchmarks/results/latest.json`. Three arms in the same run: **direct** (wrk straight to the fixed-response "
      "upstream), **nginx** (a plain reverse proxy in front of it), **switchyard** (the gateway in front of it); then "
      "feature arms of the gateway, each as CPU per request next to the plain gateway.\n")

    # Headline.
    w("## Summary\n")
    w("| | json | sse |")
    w("|---|---:|---:|")
    row = lambda variant, c: next((x for x in r["ratios"] if x["variant"] == variant and x["connections"] == c), None)  # noqa: E731
    r32 = {v: row(v, TARGET_CONNECTIONS) for v in VARIANTS}
    w("| rps at %d conns, Switchyard / nginx | %s | %s |" % (
        TARGET_CONNECTIONS, *(fmt((r32[v] or {}).get("switchyard_over_nginx"), 3, "x") for v in VARIANTS)))
    w("| rps at %d conns, direct / Switchyard (validity: >= %.0fx) | %s | %s |" % (
        TARGET_CONNECTIONS, c["valid_factor"], *(fmt((r32[v] or {}).get("direct_over_switchyard"), 1, "x") for v in VARIANTS)))
    w("| CPU µs per request at %d conns, Switchyard / nginx | %s | %s |" % (
        TARGET_CONNECTIONS, *("%s / %s" % (fmt((r32[v] or {}).get("cpu_us_per_request_switchyard"), 1),
                                          fmt((r32[v] or {}).get("cpu_us_per_request_nginx"), 1)) for v in VARIANTS)))
    p50 = []
    for v in VARIANTS:
        s, n = find(r["runs"], v, "switchyard", 1), find(r["runs"], v, "nginx", 1)
        p50.append("%.3f ms vs %.3f ms" % (s["latency_ms"]["p50"], n["latency_ms"]["p50"] + TARGET_P50_DELTA_MS) if s and n else "n/a")
    w("| p50 at 1 conn, Switchyard vs nginx + %.2f ms | %s | %s |" % (TARGET_P50_DELTA_MS, *p50))
    w("")
    w("RSS: %s MiB idle, %s MiB after %d streams (peak %s MiB).\n" % (
        fmt(p["rss_mib_idle"], 1), fmt(p["rss_mib_after_streamed"], 1), p["streamed_requests_before_rss_read"],
        fmt(p["rss_mib_peak"], 1)))

    w("## Targets (issue 15)\n")
    w("| target | goal | measured | result | gap |")
    w("|---|---|---|---|---|")
    for t in r["targets"]:
        w("| %s | %s | %s | **%s** | %s |" % (t["name"], t["target"], t["measured"], t["status"], t["gap"]))
    w("")

    w("## Conditions\n")
    w("| | |\n|---|---|")
    rows = [
        ("Date (UTC)", "%s - %s" % (c["date"], c["finished_at"])),
        ("CPU", "%s (%s CPUs online), %s GiB RAM" % (c["cpu_model"], c["cpus_online"], c["memory_gib"])),
        ("OS / kernel", "%s / %s" % (c["os"], c["kernel"])),
        ("Core pinning", c["pinning"]["description"]),
        ("Upstream", c["upstream"]),
        ("wrk", "%s; threads: %s; %s per run after a %s warm-up; `--timeout 5s`" % (
            c["wrk_version"], c["wrk_threads"], c["duration_per_run"], c["warmup_per_run"])),
        ("nginx (proxy arm)", "%s: %s" % (c["nginx_version"], c["nginx"])),
        ("Swift", c["swift_version"]),
        ("Switchyard build", "%s, commit %s (%s files under Sources/ or Package.* differed from it when the run started), binary built %s" % (
            c["build_config"], c["switchyard_commit"], c["switchyard_uncommitted_source_files"], c["switchyard_binary_mtime"])),
        ("Switchyard config", "`server.access_log: false`, `log_level: warning`, openai-compatible provider with "
         "`max_connections: 256`; the usage ledger and metrics on (defaults)"),
        ("Request", "POST /v1/chat/completions, %s-byte JSON chat body (system + user message); streaming body adds "
         "`\"stream\": true` (%s bytes); Anthropic arm: POST /v1/messages, %s bytes" % (
             c["request_body_bytes"]["plain"], c["request_body_bytes"]["stream"], c["request_body_bytes"]["anthropic"])),
        ("Responses", "non-streaming: %s bytes JSON; streaming: %s, %s body bytes direct / %s via nginx / %s via "
         "Switchyard (which strips the usage chunk for clients that did not ask for it)" % (
             c["response_body_bytes"]["direct"]["plain"], c["stream_shape"], c["response_body_bytes"]["direct"]["stream"],
             c["response_body_bytes"]["nginx"]["stream"], c["response_body_bytes"]["switchyard"]["stream"])),
        ("Load average", "start %s, end %s" % (c["loadavg_start"], c["loadavg_end"])),
        ("Other processes", "foreign CPU in a 1 s window before the start: %s s (waited %s s for quiet); "
         "per-run foreign CPU is in the tables and in latest.json" % (
             (c["idle_check_start"] or {}).get("foreign_cpu_s"), (c["idle_check_start"] or {}).get("waited_s"))),
    ]
    for k, v in rows:
        w("| %s | %s |" % (k, v))
    w("")

    for variant in VARIANTS:
        w("## %s\n" % VARIANT_TITLE[variant])
        w("| arm | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors | proxy CPU | proxy CPU µs/req | upstream CPU | CPU0 / CPU1 busy | foreign CPU-s | resp bytes |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for run in r["runs"]:
            if run["variant"] != variant:
                continue
            e = run["socket_errors"]
            sock = "0" if not run["socket_errors_total"] else "c%d r%d w%d t%d" % (e["connect"], e["read"], e["write"], e["timeout"])
            lat = run["latency_ms"]
            busy = run.get("cpu_busy") or {}
            w("| %s | %d | %s | %.3f | %.3f | %.3f | %.1f | %d | %s | %s | %s | %s | %s / %s | %s | %s |" % (
                run["arm"], run["connections"], "{:,.0f}".format(run["rps"]), lat["p50"], lat["p90"], lat["p99"], lat["max"],
                run["non_2xx"], sock,
                fmt(run.get("proxy_cpu_utilisation"), 2) if "proxy_cpu_utilisation" in run else "-",
                fmt(run.get("proxy_cpu_us_per_request"), 1) if "proxy_cpu_us_per_request" in run else "-",
                fmt(run.get("upstream_cpu_utilisation"), 2),
                fmt(busy.get("cpu0")), fmt(busy.get("cpu1")), fmt(run.get("foreign_cpu_s")),
                run["bytes_per_response"]))
        w("")
    w("proxy CPU = CPU seconds the nginx worker / Switchyard process used during the run divided by its duration "
      "(1.00 = the whole pinned core); upstream CPU = the same for the upstream nginx worker. CPU0 / CPU1 busy = share "
      "of each core busy during the run (/proc/stat), foreign CPU-s = CPU seconds used during the run by processes that "
      "are not part of the benchmark. resp bytes = wrk bytes read per response, headers included.\n")

    w("## Throughput ratios\n")
    w("| variant | conns | Switchyard / nginx | Switchyard / direct | nginx / direct | direct / Switchyard | p50 Switchyard - nginx | CPU µs/req Switchyard / nginx |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for x in r["ratios"]:
        w("| %s | %d | %s | %s | %s | %s | %+.3f ms | %s / %s |" % (
            SHORT[x["variant"]], x["connections"], fmt(x["switchyard_over_nginx"], 3), fmt(x["switchyard_over_direct"], 3),
            fmt(x["nginx_over_direct"], 3), fmt(x["direct_over_switchyard"], 1), x["p50_delta_vs_nginx_ms"],
            fmt(x["cpu_us_per_request_switchyard"], 1), fmt(x["cpu_us_per_request_nginx"], 1)))
    w("")
    bound = []
    for x in r["ratios"]:
        for arm in ("direct", "nginx"):
            run = find(r["runs"], x["variant"], arm, x["connections"])
            busy = (run or {}).get("cpu_busy") or {}
            if busy.get("cpu%d" % c["pinning"]["load_generator_and_upstream_cpu"], 0) >= 0.95:
                bound.append("%s/%s/c%d" % (SHORT[x["variant"]], arm, x["connections"]))
    if bound:
        w("Where the load generator's core (CPU %d: wrk + upstream) was >= 95%% busy, that core rather than the proxy "
          "limited throughput (expected for the direct arm and for nginx at high rates; it understates nginx, so the "
          "Switchyard / nginx ratio flatters the gateway there): %s.\n" % (
              c["pinning"]["load_generator_and_upstream_cpu"], ", ".join(bound)))

    if r["features"]:
        w("## Feature arms: CPU per request next to the plain gateway\n")
        w("Each arm is the gateway with one feature on (a process of its own except the Anthropic arm, which is the "
          "plain gateway answering `POST /v1/messages`), measured at the same connections as the plain arm.\n")
        for arm, title, _, description in FEATURES:
            if any(f["arm"] == arm for f in r["features"]):
                w("- **%s**: %s." % (title, description))
        w("")
        w("| arm | variant | conns | req/s | plain req/s | p50 ms | plain p50 ms | p99 ms | CPU µs/req | plain CPU µs/req | CPU vs plain | limit |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for f in r["features"]:
            limit = f["cpu_limit_over_plain"]
            w("| %s | %s | %d | %s | %s | %.3f | %s | %.3f | %s | %s | %s | %s |" % (
                f["title"], SHORT[f["variant"]], f["connections"], "{:,.0f}".format(f["rps"]),
                "{:,.0f}".format(f["plain_rps"]) if f["plain_rps"] else "n/a", f["p50_ms"], fmt(f["plain_p50_ms"], 3),
                f["p99_ms"], fmt(f["cpu_us_per_request"], 1), fmt(f["plain_cpu_us_per_request"], 1), pct(f["cpu_over_plain"]),
                pct(limit) if limit is not None else "-"))
        w("")
        w("Trace exports received by the upstream during the logged arm: %s (%s bytes, %s not answered 200).\n" % (
            p["logged_trace_exports"], p["logged_trace_export_bytes"], p["logged_trace_export_failures"]))

    if r.get("mcp"):
        w("## MCP path: CPU per tool call\n")
        w("`POST /mcp` with a `tools/call` (%s-byte JSON-RPC body, `Mcp-Session-Id` of a session opened with curl before "
          "wrk) through the gateway to one Streamable HTTP MCP server, next to the same call sent straight to that server "
          "(mcp direct) and to a plain chat completion through the gateway. No target (issue 19 sets none). Calls the "
          "gateway counted (warm-ups and the check included): %s succeeded, %s did not.\n" % (
              c["request_body_bytes"].get("mcp"), r["mcp_calls"]["success"], r["mcp_calls"]["failed"]))
        w("| conns | calls/s | p50 ms | p99 ms | CPU µs/call | plain chat CPU µs/req | mcp direct calls/s | mcp direct p50 ms | direct / gateway |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for x in r["mcp"]:
            w("| %d | %s | %.3f | %.3f | %s | %s | %s | %s | %s |" % (
                x["connections"], "{:,.0f}".format(x["rps"]), x["p50_ms"], x["p99_ms"], fmt(x["cpu_us_per_call"], 1),
                fmt(x["plain_cpu_us_per_request"], 1), "{:,.0f}".format(x["direct_rps"]) if x["direct_rps"] else "n/a",
                fmt(x["direct_p50_ms"], 3), fmt(x["direct_over_gateway"], 1, "x")))
        w("")

    if r["ttft"]:
        w("## Time to first token\n")
        w("`benchmarks/ttft.py`: %d sequential streaming requests per arm (after 20 discarded) over one keep-alive "
          "connection; time from writing the request to the recv() that delivers the first `data:` event.\n"
          % c["ttft_requests_per_arm"])
        w("| arm | p50 ms | p90 ms | p99 ms | max ms | full stream p50 ms | connections opened |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        for arm in ARMS:
            t = r["ttft"].get(arm)
            if t:
                m = t["ttft_ms"]
                w("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %d |" % (
                    arm, m["p50"], m["p90"], m["p99"], m["max"], t["total_ms"]["p50"], t["connections_opened"]))
        w("")

    if r.get("guardrail_cost"):
        w("## Guardrail cost per KB of prompt\n")
        w("`switchyard guardrails bench` on the proxy's CPU: each built-in detector alone, in process, on generated "
          "prose with some e-mail addresses, phone and card numbers (3,000 runs per size after a warm-up).\n")
        w("| detector | prompt | p50 µs | p99 µs | p50 µs/KB | p99 µs/KB |")
        w("|---|---:|---:|---:|---:|---:|")
        for x in r["guardrail_cost"]:
            w("| %s | %d KB | %.1f | %.1f | %.1f | %.1f |" % (
                x["guardrail"], x["kb"], x["p50_us"], x["p99_us"], x["p50_us_per_kb"], x["p99_us_per_kb"]))
        w("")

    w("## Switchyard process\n")
    w("| | |\n|---|---|")
    w("| RSS idle (2 s after start) | %s MiB |" % fmt(p["rss_mib_idle"], 1))
    w("| RSS after the non-streaming runs | %s MiB |" % fmt(p["rss_mib_after_plain_load"], 1))
    w("| RSS after %d streamed requests | %s MiB |" % (p["streamed_requests_before_rss_read"], fmt(p["rss_mib_after_streamed"], 1)))
    w("| Peak RSS (VmHWM) | %s MiB |" % fmt(p["rss_mib_peak"], 1))
    w("| CPU time (user+sys): idle / after non-streaming / after streaming / end | %s / %s / %s / %s s |" % (
        p["cpu_s_at_idle"], p["cpu_s_after_plain_load"], p["cpu_s_after_stream_load"], p["cpu_s_final"]))
    w("| Threads idle / after load | %s / %s |" % (p["threads_idle"], p["threads_after_load"]))
    w("| Log lines (warning / error-level), stderr lines | %d (%d / %d), %d |" % (
        p["log_lines"], p["log_warnings"], p["log_errors"], p["stderr_lines"]))
    w("| nginx worker RSS idle / after load (for comparison) | %s / %s MiB |" % (
        fmt(p["nginx_worker_rss_mib_idle"], 1), fmt(p["nginx_worker_rss_mib_after"], 1)))
    w("")

    w("## Notes and anomalies\n")
    if r["anomalies"]:
        for a in r["anomalies"]:
            w("- %s" % a)
    else:
        w("- none detected (no non-2xx responses, no socket errors, no error-level gateway log lines)")
    w("- wrk and the upstream share CPU %d, so the *direct* arm is bounded by that one core (load generator plus "
      "upstream); in the proxied arms the proxy has CPU %d to itself. CPU per request of the proxy process stays "
      "meaningful when the load generator's core saturates." % (
          c["pinning"]["load_generator_and_upstream_cpu"], c["pinning"]["proxy_under_test_cpu"]))
    w("- Latencies are wrk's (no coordinated-omission correction), measured on closed-loop keep-alive connections.")
    w("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
