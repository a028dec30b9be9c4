#!/usr/bin/env python3
"""Assembles benchmarks/results/latest.json and benchmarks/RESULTS.md from a run's work folder.

benchmarks/run.sh calls it at the end; it can be rerun on a kept work folder:
    python3 benchmarks/report.py --work benchmarks/.work --out-json benchmarks/results/latest.json \
        --out-md benchmarks/RESULTS.md
Stdlib only.
"""

import argparse
import json
import os
import platform
import subprocess
import sys

ARMS = ["direct", "nginx", "switchyard"]
VARIANTS = ["plain", "stream"]
VARIANT_TITLE = {"plain": "Non-streaming", "stream": "Streaming"}

# Targets from the benchmark issue.
TARGET_THROUGHPUT_RATIO = 0.3      # Switchyard >= 0.3 x nginx at 32 connections
TARGET_P50_DELTA_MS = 0.2          # Switchyard p50 at 1 connection <= nginx p50 + 0.2 ms
TARGET_RSS_IDLE_MB = 40.0
TARGET_RSS_STREAMED_MB = 150.0
TARGET_TTFT_DELTA_MS = 1.0         # Switchyard TTFT p50 <= direct TTFT p50 + 1 ms
TARGET_CONNECTIONS = 32
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


def conditions(meta, root):
    clk = int(meta.get("clk_tck", "100"))
    wrk_version = sh("wrk -v 2>&1 | head -n 1")
    nginx_version = sh("%s -v 2>&1" % meta.get("nginx_bin", "nginx"))
    swift_version = sh("swift --version 2>&1 | head -n 1")
    commit = meta.get("git_head", "unknown")
    dirty = meta.get("git_dirty_source_files", "?")
    binary = meta.get("binary", "")
    try:
        import datetime
        binary_mtime = datetime.datetime.fromtimestamp(os.path.getmtime(binary), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OSError:
        binary_mtime = None
    return {
        "date": meta.get("started_at"),
        "finished_at": meta.get("finished_at"),
        "cpu_model": cpu_model(),
        "cpus_online": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "os": sh(". /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\""),
        "pinning": {
            "load_generator_and_mock_cpu": int(meta.get("loadgen_cpu", 0)),
            "proxy_under_test_cpu": int(meta.get("proxy_cpu", 1)),
            "description": "wrk, the TTFT probe and both mock upstreams on CPU %s (taskset -c %s); "
            "the proxy under test (nginx worker or switchyard) on CPU %s (taskset -c %s)"
            % (meta.get("loadgen_cpu"), meta.get("loadgen_cpu"), meta.get("proxy_cpu"), meta.get("proxy_cpu")),
        },
        "wrk_version": wrk_version,
        "wrk_threads": "1 for 1 connection, %s otherwise" % meta.get("wrk_threads"),
        "nginx_version": nginx_version.replace("nginx version: ", ""),
        "swift_version": swift_version,
        "switchyard_commit": commit,
        "switchyard_uncommitted_source_files": int(dirty) if dirty.isdigit() else dirty,
        "switchyard_binary": binary,
        "switchyard_binary_mtime": binary_mtime,
        "build_config": meta.get("build_config"),
        "switchyard_access_log": False,
        "switchyard_log_level": "warning",
        "switchyard_upstream_max_connections": 256,
        "nginx": "1 worker, upstream keepalive 256, proxy_http_version 1.1, Connection \"\", proxy_buffering off, access_log off",
        "duration_per_run": meta.get("duration"),
        "warmup_per_run": meta.get("warmup") + " (discarded)",
        "connections": [int(c) for c in meta.get("connections", "").split()],
        "request_body_bytes": {"plain": int(meta.get("body_bytes_plain", 0)), "stream": int(meta.get("body_bytes_stream", 0))},
        "stream_shape": "%s content chunks x %s chars (+ role and finish chunks, [DONE])"
        % (meta.get("stream_chunks"), meta.get("stream_chunk_bytes")),
        "response_body_bytes": {
            arm: {
                "plain": int(meta["check_%s_plain_bytes" % arm]) if "check_%s_plain_bytes" % arm in meta else None,
                "stream": int(meta["check_%s_stream_bytes" % arm]) if "check_%s_stream_bytes" % arm in meta else None,
                "stream_events": int(meta["check_%s_stream_events" % arm]) if "check_%s_stream_events" % arm in meta else None,
                "stream_usage_null_fields": int(meta["check_%s_stream_usage_null" % arm]) if meta.get("check_%s_stream_usage_null" % arm) else None,
                "stream_model_field": meta.get("check_%s_stream_model" % arm),
            }
            for arm in ARMS
        },
        "ttft_requests_per_arm": int(meta.get("ttft_n", 0)),
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
                "mock_cpu_s": round(raw["mock_cpu_ticks"] / clk, 2),
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


def cost_table(w, rows, arm):
    """The table of an extra arm against the plain Switchyard arm."""
    w("| conns | %s / plain req/s | p50 delta | p99 delta | CPU µs/req plain | CPU µs/req %s |" % (arm, arm))
    w("|---:|---:|---:|---:|---:|---:|")
    for x in rows:
        w("| %d | %.3f | %+.3f ms | %+.3f ms | %s | %s |" % (
            x["connections"], x["%s_over_switchyard" % arm], x["p50_delta_ms"], x["p99_delta_ms"],
            fmt(x["cpu_us_per_request_switchyard"], 1), fmt(x["cpu_us_per_request_%s" % arm], 1)))
    w("")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--out-json", required=True)
    parser.add_argument("--out-md", required=True)
    args = parser.parse_args()

    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    meta = read_meta(os.path.join(args.work, "meta.txt"))
    cond = conditions(meta, root)
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

    connections = sorted({run["connections"] for run in runs})
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
                "p50_delta_vs_nginx_ms": round(s["latency_ms"]["p50"] - n["latency_ms"]["p50"], 3),
            })

    def cost_over_plain(arm):
        """An extra arm against the plain Switchyard arm at the same connections."""
        rows = []
        for c in connections:
            s, g = find(runs, "plain", "switchyard", c), find(runs, "plain", arm, c)
            if not (s and g):
                continue
            rows.append({
                "connections": c,
                "%s_over_switchyard" % arm: ratio(g["rps"], s["rps"]),
                "p50_delta_ms": round(g["latency_ms"]["p50"] - s["latency_ms"]["p50"], 3),
                "p99_delta_ms": round(g["latency_ms"]["p99"] - s["latency_ms"]["p99"], 3),
                "cpu_us_per_request_switchyard": s.get("proxy_cpu_us_per_request"),
                "cpu_us_per_request_%s" % arm: g.get("proxy_cpu_us_per_request"),
            })
        return rows

    stage_cost = cost_over_plain("guarded")
    log_cost = cost_over_plain("logged")
    ticks = lambda key: int(meta[key]) if meta.get(key, "") != "" else None  # noqa: E731
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
        "threads_idle": int(meta["sw_threads_idle"]) if "sw_threads_idle" in meta else None,
        "threads_after_load": int(meta["sw_threads_after_stream"]) if "sw_threads_after_stream" in meta else None,
        "log_lines": int(meta.get("sw_log_lines", 0)),
        "log_warnings": int(meta.get("sw_log_warnings", 0)),
        "log_errors": int(meta.get("sw_log_errors", 0)),
        "stderr_lines": int(meta.get("sw_stderr_lines", 0)),
        "nginx_worker_rss_mib_idle": mib(meta.get("nginx_worker_rss_idle_kb")),
        "nginx_worker_rss_mib_after": mib(meta.get("nginx_worker_rss_after_kb")),
    }


    # The cached arm (every request an exact hit) against pass-through and direct.
    cache_hits = []
    for c in connections:
        s, k, d = find(runs, "plain", "switchyard", c), find(runs, "plain", "cached", c), find(runs, "plain", "direct", c)
        if not (s and k and d):
            continue
        overhead = s["latency_ms"]["p50"] - d["latency_ms"]["p50"]
        m = find(runs, "plain", "semantic", c)
        cache_hits.append({
            "semantic_hit_p50_ms": m["latency_ms"]["p50"] if m else None,
            "semantic_hit_p99_ms": m["latency_ms"]["p99"] if m else None,
            "semantic_hit_rps": m["rps"] if m else None,
            "cpu_us_per_semantic_hit": m.get("proxy_cpu_us_per_request") if m else None,
            "connections": c,
            "hit_p50_ms": k["latency_ms"]["p50"],
            "hit_p99_ms": k["latency_ms"]["p99"],
            "hit_rps": k["rps"],
            "passthrough_p50_ms": s["latency_ms"]["p50"],
            "direct_p50_ms": d["latency_ms"]["p50"],
            "gateway_overhead_p50_ms": round(overhead, 3),
            "hit_minus_overhead_ms": round(k["latency_ms"]["p50"] - overhead, 3),
            "cpu_us_per_hit": k.get("proxy_cpu_us_per_request"),
        })

    # Targets.
    targets = []

    def add(name, target, measured, ok, gap):
        targets.append({"name": name, "target": target, "measured": measured, "status": "PASS" if ok else "MISS", "gap": gap})

    for variant in VARIANTS:
        r = next((x for x in ratios if x["variant"] == variant and x["connections"] == TARGET_CONNECTIONS), None)
        if r and r["switchyard_over_nginx"] is not None:
            v = r["switchyard_over_nginx"]
            add("%s throughput at %d connections, Switchyard / nginx" % (VARIANT_TITLE[variant].lower(), TARGET_CONNECTIONS),
                ">= %.1fx" % TARGET_THROUGHPUT_RATIO, "%.3fx" % v, v >= TARGET_THROUGHPUT_RATIO,
                "%+.3fx vs target" % (v - TARGET_THROUGHPUT_RATIO))
    for variant in VARIANTS:
        s, n = find(runs, variant, "switchyard", 1), find(runs, variant, "nginx", 1)
        if s and n:
            delta = s["latency_ms"]["p50"] - n["latency_ms"]["p50"]
            add("%s p50 latency at 1 connection, Switchyard - nginx" % VARIANT_TITLE[variant].lower(),
                "<= %.1f ms" % TARGET_P50_DELTA_MS,
                "%+.3f ms (%.3f vs %.3f ms)" % (delta, s["latency_ms"]["p50"], n["latency_ms"]["p50"]),
                delta <= TARGET_P50_DELTA_MS, "%+.3f ms vs target" % (delta - TARGET_P50_DELTA_MS))
    hit = next((x for x in cache_hits if x["connections"] == 1), None)
    if hit:
        v = hit["hit_minus_overhead_ms"]
        add("exact cache hit p50 at 1 connection, minus the gateway's own overhead (pass-through p50 - direct p50)",
            "<= 0.3 ms", "%.3f ms (hit %.3f ms, overhead %.3f ms)" % (v, hit["hit_p50_ms"], hit["gateway_overhead_p50_ms"]),
            v <= 0.3, "%+.3f ms vs target" % (v - 0.3))
    if process["rss_mib_idle"] is not None:
        v = process["rss_mib_idle"]
        add("Switchyard RSS idle (after start)", "<= %.0f MiB" % TARGET_RSS_IDLE_MB, "%.1f MiB" % v,
            v <= TARGET_RSS_IDLE_MB, "%+.1f MiB vs target" % (v - TARGET_RSS_IDLE_MB))
    if process["rss_mib_after_streamed"] is not None:
        v = process["rss_mib_after_streamed"]
        add("Switchyard RSS after %d streamed requests" % process["streamed_requests_before_rss_read"],
            "<= %.0f MiB" % TARGET_RSS_STREAMED_MB, "%.1f MiB" % v, v <= TARGET_RSS_STREAMED_MB,
            "%+.1f MiB vs target" % (v - TARGET_RSS_STREAMED_MB))
    if "switchyard" in ttft and "direct" in ttft:
        s, d = ttft["switchyard"]["ttft_ms"]["p50"], ttft["direct"]["ttft_ms"]["p50"]
        add("TTFT p50, Switchyard - direct", "<= %.1f ms" % TARGET_TTFT_DELTA_MS,
            "%+.3f ms (%.3f vs %.3f ms)" % (s - d, s, d), s - d <= TARGET_TTFT_DELTA_MS,
            "%+.3f ms vs target" % (s - d - TARGET_TTFT_DELTA_MS))

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
    bodies = cond["response_body_bytes"]
    if bodies["switchyard"]["stream"] != bodies["direct"]["stream"]:
        sw, d = bodies["switchyard"], bodies["direct"]
        anomalies.append(
            "observation: Switchyard's streamed body is %s bytes vs %s from the upstream directly; its chunks carry "
            "\"usage\":null on %s of %s events (the client did not ask for usage; upstream adds the field because the "
            "gateway requests include_usage) and \"model\":\"%s\" where the upstream echoed \"%s\"" % (
                sw["stream"], d["stream"], sw["stream_usage_null_fields"], sw["stream_events"],
                sw["stream_model_field"], d["stream_model_field"]))
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
        "schema": 1,
        "conditions": cond,
        "runs": runs,
        "ratios": ratios,
        "ttft": ttft,
        "switchyard_process": process,
        "stage_cost": stage_cost,
        "guardrail_cost": guardrails,
        "cache_hits": cache_hits,
        "log_cost": log_cost,
        "targets": targets,
        "anomalies": anomalies,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out_json)), exist_ok=True)
    with open(args.out_json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    with open(args.out_md, "w") as f:
        f.write(markdown(result))
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
    w("Generated by `benchmarks/run.sh` (see `benchmarks/README.md`); machine-readable copy: "
      "`benchmarks/results/latest.json`. Three arms in the same run: **direct** (wrk straight to the mock "
      "provider), **nginx** (plain reverse proxy in front of the mock), **switchyard** (the gateway in front of "
      "the mock).\n")
    w("## Conditions\n")
    w("| | |\n|---|---|")
    rows = [
        ("Date (UTC)", "%s - %s" % (c["date"], c["finished_at"])),
        ("CPU", "%s (%s CPUs online), %s GiB RAM" % (c["cpu_model"], c["cpus_online"], c["memory_gib"])),
        ("OS / kernel", "%s / %s" % (c["os"], c["kernel"])),
        ("Core pinning", c["pinning"]["description"]),
        ("wrk", "%s; threads: %s; %s per run after a %s warm-up; `--timeout 5s`" % (
            c["wrk_version"], c["wrk_threads"], c["duration_per_run"], c["warmup_per_run"])),
        ("nginx", "%s: %s" % (c["nginx_version"], c["nginx"])),
        ("Swift", c["swift_version"]),
        ("Switchyard build", "%s, commit %s (%s files under Sources/ or Package.* differed from it when the run started), binary built %s" % (
            c["build_config"], c["switchyard_commit"], c["switchyard_uncommitted_source_files"], c["switchyard_binary_mtime"])),
        ("Switchyard config", "`server.access_log: false` (no per-request log line is measured), `log_level: warning`, "
         "openai-compatible provider with `max_connections: 256`"),
        ("Request", "POST /v1/chat/completions, %d-byte JSON chat body (system + user message); streaming body adds "
         "`\"stream\": true` (%d bytes)" % (c["request_body_bytes"]["plain"], c["request_body_bytes"]["stream"])),
        ("Responses", "non-streaming: %s bytes JSON; streaming: %s, %s body bytes direct / %s via nginx / %s via "
         "Switchyard (Switchyard asks upstream for the usage chunk and strips it again)" % (
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
        w("| arm | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors | proxy CPU | proxy CPU µs/req | CPU0 / CPU1 busy | foreign CPU-s | resp bytes |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for run in r["runs"]:
            if run["variant"] != variant:
                continue
            e = run["socket_errors"]
            sock = "0" if not run["socket_errors_total"] else "c%d r%d w%d t%d" % (e["connect"], e["read"], e["write"], e["timeout"])
            lat = run["latency_ms"]
            busy = run.get("cpu_busy") or {}
            w("| %s | %d | %s | %.3f | %.3f | %.3f | %.1f | %d | %s | %s | %s | %s | %s | %s |" % (
                run["arm"], run["connections"], "{:,.0f}".format(run["rps"]), lat["p50"], lat["p90"], lat["p99"], lat["max"],
                run["non_2xx"], sock,
                fmt(run.get("proxy_cpu_utilisation"), 2) if "proxy_cpu_utilisation" in run else "-",
                fmt(run.get("proxy_cpu_us_per_request"), 1) if "proxy_cpu_us_per_request" in run else "-",
                "%s / %s" % (fmt(busy.get("cpu0")), fmt(busy.get("cpu1"))), fmt(run.get("foreign_cpu_s")),
                run["bytes_per_response"]))
        w("")
    w("proxy CPU = CPU seconds the nginx worker / Switchyard process used during the run divided by its duration "
      "(1.00 = the whole pinned core). CPU0 / CPU1 busy = share of each core busy during the run (/proc/stat), "
      "foreign CPU-s = CPU seconds used during the run by processes that are not part of the benchmark. "
      "resp bytes = wrk bytes read per response, headers included.\n")

    w("## Throughput ratios\n")
    w("| variant | conns | Switchyard / nginx | Switchyard / direct | nginx / direct | p50 Switchyard - nginx |")
    w("|---|---:|---:|---:|---:|---:|")
    for x in r["ratios"]:
        w("| %s | %d | %.3f | %.3f | %.3f | %+.3f ms |" % (
            x["variant"], x["connections"], x["switchyard_over_nginx"], x["switchyard_over_direct"], x["nginx_over_direct"],
            x["p50_delta_vs_nginx_ms"]))
    w("")

    bound = []
    for x in r["ratios"]:
        for arm in ("nginx", "switchyard"):
            run = find(r["runs"], x["variant"], arm, x["connections"])
            busy = (run or {}).get("cpu_busy") or {}
            if busy.get("cpu%d" % c["pinning"]["load_generator_and_mock_cpu"], 0) >= 0.95:
                bound.append("%s/%s/c%d" % (x["variant"], arm, x["connections"]))
    if bound:
        w("Where the load generator's core (CPU %d: wrk + mock) was >= 95%% busy, that core rather than the proxy "
          "limited throughput, so the ratio understates the gap between the proxies: %s.\n" % (
              c["pinning"]["load_generator_and_mock_cpu"], ", ".join(bound)))

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

    if r.get("stage_cost"):
        w("## Cost of authentication, limits, budget, access rules and guardrails\n")
        w("A second Switchyard (the *guarded* arm, non-streaming only) with a virtual key checked on every request "
          "(SQLite lookup of its keyed hash), a per-key request and token limit, a global concurrency limit, a per-key "
          "budget with a cost reservation and settlement, an attribute rule, and three guardrails (PII masking and "
          "injection on the prompt, credentials on prompt and answer), next to the plain run at the same "
          "connections. Both record every request in the usage ledger (the default).\n")
        cost_table(w, r["stage_cost"], "guarded")

    if r.get("cache_hits"):
        w("## Exact cache hits\n")
        w("A third Switchyard with `cache: {ttl: 1h}`; the check request stores the answer, so every measured "
          "request is an exact hit (looked up, replayed, recorded in the usage ledger at zero cost). The target "
          "compares the hit's p50 with the gateway's own overhead (pass-through p50 minus direct p50).\n")
        w("| conns | hit req/s | hit p50 ms | hit p99 ms | pass-through p50 ms | direct p50 ms | hit p50 - overhead | CPU µs/hit |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for x in r["cache_hits"]:
            w("| %d | %s | %.3f | %.3f | %.3f | %.3f | %+.3f ms | %s |" % (
                x["connections"], "{:,.0f}".format(x["hit_rps"]), x["hit_p50_ms"], x["hit_p99_ms"], x["passthrough_p50_ms"],
                x["direct_p50_ms"], x["hit_minus_overhead_ms"], fmt(x["cpu_us_per_hit"], 1)))
        w("")
        if any(x.get("semantic_hit_p50_ms") is not None for x in r["cache_hits"]):
            w("Semantic lookups: a fourth Switchyard with `cache.semantic` (threshold 0.9, an in-process bag-of-words "
              "embedding model); every request carries a different reference number, so each is an exact miss, an "
              "embedding request through the gateway (itself a cache miss) and a semantic hit.\n")
            w("| conns | semantic hit req/s | p50 ms | p99 ms | pass-through p50 ms | CPU µs/hit |")
            w("|---:|---:|---:|---:|---:|---:|")
            for x in r["cache_hits"]:
                if x.get("semantic_hit_p50_ms") is None:
                    continue
                w("| %d | %s | %.3f | %.3f | %.3f | %s |" % (
                    x["connections"], "{:,.0f}".format(x["semantic_hit_rps"]), x["semantic_hit_p50_ms"], x["semantic_hit_p99_ms"],
                    x["passthrough_p50_ms"], fmt(x["cpu_us_per_semantic_hit"], 1)))
            w("")

    if r.get("log_cost"):
        w("## Cost of full observability\n")
        w("A fifth Switchyard (non-streaming) with everything a production deployment would turn on: the access log "
          "(one structured JSON line per request, written to a file by a background queue), the request log's detail "
          "and redacted prompt and answer bodies into SQLite next to each usage row (`logging.bodies: true`), and every "
          "request traced (server, stage and attempt spans) and exported over OTLP/HTTP JSON to a collector stand-in, "
          "next to the plain run (access log off; the usage ledger and metrics are on in both) at the same connections.\n")
        cost_table(w, r["log_cost"], "logged")

    if r.get("guardrail_cost"):
        w("## Guardrail cost per KB of prompt\n")
        w("`switchyard guardrails bench` on the proxy's CPU: each built-in detector alone, in process, on generated "
          "prose with some e-mail addresses, phone and card numbers (3,000 runs per size after a warm-up). This is "
          "the CPU a guardrail adds to a request on top of the pass-through path above.\n")
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

    w("## Targets\n")
    w("| target | goal | measured | result | gap |")
    w("|---|---|---|---|---|")
    for t in r["targets"]:
        w("| %s | %s | %s | **%s** | %s |" % (t["name"], t["goal"] if "goal" in t else t["target"], t["measured"], t["status"], t["gap"]))
    w("")

    w("## Notes and anomalies\n")
    if r["anomalies"]:
        for a in r["anomalies"]:
            w("- %s" % a)
    else:
        w("- none detected (no non-2xx responses, no socket errors, no error-level gateway log lines)")
    w("- wrk and the mock upstream share CPU %d, so the *direct* arm is bounded by that one core (load generator "
      "plus upstream); in the proxied arms the proxy has CPU %d to itself." % (
          c["pinning"]["load_generator_and_mock_cpu"], c["pinning"]["proxy_under_test_cpu"]))
    w("- Latencies are wrk's (no coordinated-omission correction), measured on closed-loop keep-alive connections.")
    w("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
