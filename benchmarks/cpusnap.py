#!/usr/bin/env python3
"""CPU accounting for the benchmark (stdlib only, Linux /proc).

    cpusnap.py save FILE                      snapshot per-CPU and per-process CPU ticks
    cpusnap.py diff FILE --exclude PID,...    JSON: per-CPU busy fraction since the snapshot and
                                              the processes outside the benchmark that used CPU
    cpusnap.py wait-idle --exclude PID,... --max-wait S [--threshold F]
                                              wait until foreign processes use < F of one CPU over
                                              a 1 s window (or S seconds passed); prints JSON

"Foreign" means any live process not listed in --exclude and not a descendant of an excluded
process or of this script's parent (the benchmark script itself, whose children are wrk and the
probes). Processes that started and exited between two snapshots are only visible in the
per-CPU busy fractions.
"""

import json
import os
import sys
import time

CLK = os.sysconf("SC_CLK_TCK")


def cpu_lines():
    result = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3:4].isdigit():
                parts = line.split()
                values = [int(v) for v in parts[1:]]
                idle = values[3] + (values[4] if len(values) > 4 else 0)
                result[parts[0]] = (sum(values[:8]), idle)
    return result


def processes():
    result = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                data = f.read()
        except OSError:
            continue
        comm = data[data.index("(") + 1 : data.rindex(")")]
        fields = data[data.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        ticks = int(fields[11]) + int(fields[12])
        start = int(fields[19])
        result[int(entry)] = {"comm": comm, "ppid": ppid, "ticks": ticks, "start": start}
    return result


def snapshot():
    return {"time": time.time(), "cpus": cpu_lines(), "procs": processes()}


def excluded_set(procs, roots):
    excluded = set(roots)
    changed = True
    while changed:
        changed = False
        for pid, info in procs.items():
            if pid not in excluded and info["ppid"] in excluded:
                excluded.add(pid)
                changed = True
    return excluded


def diff(before, after, roots):
    cpus = {}
    for name, (total, idle) in after["cpus"].items():
        if name in before["cpus"]:
            t0, i0 = before["cpus"][name]
            dt = total - t0
            cpus[name] = round(1.0 - (idle - i0) / dt, 3) if dt > 0 else 0.0
    procs_after = {int(k): v for k, v in after["procs"].items()}
    procs_before = {int(k): v for k, v in before["procs"].items()}
    excluded = excluded_set(procs_after, roots)
    foreign = []
    for pid, info in procs_after.items():
        if pid in excluded:
            continue
        prev = procs_before.get(pid)
        used = info["ticks"] - (prev["ticks"] if prev and prev["start"] == info["start"] else 0)
        if used > 0:
            foreign.append({"pid": pid, "comm": info["comm"], "cpu_s": round(used / CLK, 2)})
    foreign.sort(key=lambda p: -p["cpu_s"])
    elapsed = after["time"] - before["time"]
    return {
        "elapsed_s": round(elapsed, 2),
        "cpu_busy": cpus,
        "foreign_cpu_s": round(sum(p["cpu_s"] for p in foreign), 2),
        "foreign": foreign[:8],
    }


def roots_from(args):
    roots = {os.getpid(), os.getppid()}
    if "--exclude" in args:
        for pid in args[args.index("--exclude") + 1].split(","):
            if pid.strip():
                roots.add(int(pid))
    return roots


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[1]
    if command == "save":
        with open(argv[2], "w") as f:
            json.dump(snapshot(), f)
        return 0
    if command == "diff":
        with open(argv[2]) as f:
            before = json.load(f)
        print(json.dumps(diff(before, snapshot(), roots_from(argv))))
        return 0
    if command == "wait-idle":
        max_wait = float(argv[argv.index("--max-wait") + 1]) if "--max-wait" in argv else 120.0
        threshold = float(argv[argv.index("--threshold") + 1]) if "--threshold" in argv else 0.10
        roots = roots_from(argv)
        started = time.time()
        while True:
            before = json.loads(json.dumps(snapshot()))
            time.sleep(1.0)
            result = diff(before, json.loads(json.dumps(snapshot())), roots)
            result["waited_s"] = round(time.time() - started, 1)
            busy = sum(result["cpu_busy"].values())
            result["idle"] = result["foreign_cpu_s"] / max(result["elapsed_s"], 1e-3) < threshold and busy < threshold * 2
            if result["idle"] or time.time() - started >= max_wait:
                print(json.dumps(result))
                return 0
    print("unknown command %r" % command, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
