#!/usr/bin/env python3
"""Time-to-first-token probe (stdlib only).

Sends N sequential streaming chat completion requests over ONE keep-alive HTTP/1.1
connection and measures, for each, the time from just before the request is written to the
socket until the recv() that delivers the first bytes of the first SSE `data:` event. Each
response is read to its end (chunked or Content-Length) so the connection can be reused, and
checked: status 200 and a final `data: [DONE]` event.

Usage: ttft.py --host 127.0.0.1 --port 18080 --body bodies/chat-stream.json [-n 200] [--warmup 20]
                [--label NAME] [--out FILE.json]
Prints a JSON object with p50/p90/p99 (milliseconds) and writes it to --out if given.
"""

import argparse
import json
import math
import socket
import sys
import time


class ProbeError(Exception):
    pass


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values) - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Connection:
    def __init__(self, host, port, timeout):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock = None
        self.connects = 0

    def ensure(self):
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connects += 1

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def one_request(conn, request_bytes):
    """Returns (ttft_seconds, total_seconds, body_bytes, keep_alive)."""
    conn.ensure()
    sock = conn.sock
    raw = bytearray()
    t0 = time.perf_counter()
    sock.sendall(request_bytes)

    # Status line and headers.
    while True:
        end = raw.find(b"\r\n\r\n")
        if end >= 0:
            break
        data = sock.recv(65536)
        if not data:
            raise ProbeError("connection closed before the response head")
        raw += data
    head = bytes(raw[:end]).decode("latin-1").split("\r\n")
    del raw[: end + 4]
    status_parts = head[0].split(" ", 2)
    if len(status_parts) < 2 or status_parts[1] != "200":
        raise ProbeError("unexpected status line: %r" % head[0])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = int(headers["content-length"]) if "content-length" in headers else None
    keep_alive = headers.get("connection", "").lower() != "close"

    decoded = bytearray()
    ttft = None
    t_recv = time.perf_counter()  # time of the recv that delivered the bytes now in `raw`

    # Body: chunked state machine or fixed length, fed recv by recv.
    state = "size"  # size | data | crlf | trailer | done
    remaining = 0
    while True:
        progress = True
        while progress and state != "done":
            progress = False
            if not chunked:
                if length is None:
                    # Close-delimited: everything belongs to the body.
                    decoded += raw
                    raw.clear()
                else:
                    take = min(len(raw), length - len(decoded))
                    decoded += raw[:take]
                    del raw[:take]
                    if len(decoded) >= length:
                        state = "done"
                break
            if state == "size":
                nl = raw.find(b"\r\n")
                if nl >= 0:
                    size_text = bytes(raw[:nl]).split(b";", 1)[0].strip()
                    del raw[: nl + 2]
                    remaining = int(size_text, 16)
                    state = "trailer" if remaining == 0 else "data"
                    progress = True
            elif state == "data":
                if raw:
                    take = min(len(raw), remaining)
                    decoded += raw[:take]
                    del raw[:take]
                    remaining -= take
                    if remaining == 0:
                        state = "crlf"
                    progress = True
            elif state == "crlf":
                if len(raw) >= 2:
                    del raw[:2]
                    state = "size"
                    progress = True
            elif state == "trailer":
                nl = raw.find(b"\r\n")
                if nl >= 0:
                    empty = nl == 0
                    del raw[: nl + 2]
                    state = "done" if empty else "trailer"
                    progress = True
        if ttft is None and b"data:" in decoded:
            ttft = t_recv - t0
        if state == "done":
            break
        data = sock.recv(65536)
        t_recv = time.perf_counter()
        if not data:
            if not chunked and length is None:
                keep_alive = False
                break
            raise ProbeError("connection closed mid-body after %d bytes" % len(decoded))
        raw += data
    total = time.perf_counter() - t0
    if raw:
        raise ProbeError("%d unexpected bytes after the response" % len(raw))
    if ttft is None:
        raise ProbeError("response had no 'data:' event")
    if b"data: [DONE]" not in decoded:
        raise ProbeError("stream did not end with data: [DONE] (%d bytes)" % len(decoded))
    if not keep_alive:
        conn.close()
    return ttft, total, len(decoded), keep_alive


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/v1/chat/completions")
    parser.add_argument("--body", required=True, help="file with the streaming request body")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--label", default="")
    parser.add_argument("--out")
    args = parser.parse_args()

    with open(args.body, "rb") as f:
        body = f.read()
    request = (
        "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
        "Accept: text/event-stream\r\nContent-Length: %d\r\n\r\n" % (args.path, args.host, args.port, len(body))
    ).encode("ascii") + body

    conn = Connection(args.host, args.port, args.timeout)
    ttfts, totals, sizes = [], [], []
    try:
        for i in range(args.warmup + args.n):
            ttft, total, size, _ = one_request(conn, request)
            if i >= args.warmup:
                ttfts.append(ttft * 1000.0)
                totals.append(total * 1000.0)
                sizes.append(size)
    except (ProbeError, OSError) as error:
        print("ttft probe failed against %s:%d after %d requests: %s"
              % (args.host, args.port, len(ttfts), error), file=sys.stderr)
        sys.exit(1)
    finally:
        conn.close()

    ttfts_sorted = sorted(ttfts)
    totals_sorted = sorted(totals)
    result = {
        "label": args.label,
        "n": len(ttfts),
        "warmup": args.warmup,
        "connections_opened": conn.connects,
        "body_bytes_per_stream": int(sum(sizes) / len(sizes)),
        "ttft_ms": {
            "min": round(ttfts_sorted[0], 4),
            "mean": round(sum(ttfts) / len(ttfts), 4),
            "p50": round(percentile(ttfts_sorted, 50), 4),
            "p90": round(percentile(ttfts_sorted, 90), 4),
            "p99": round(percentile(ttfts_sorted, 99), 4),
            "max": round(ttfts_sorted[-1], 4),
        },
        "total_ms": {
            "p50": round(percentile(totals_sorted, 50), 4),
            "p90": round(percentile(totals_sorted, 90), 4),
            "p99": round(percentile(totals_sorted, 99), 4),
        },
    }
    text = json.dumps(result)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
