#!/usr/bin/env python3
"""Writes the fixed answers that the benchmark's upstream (nginx, see upstream.conf.template) serves.

    upstream.py --out DIR [--chunks N] [--chunk-bytes N] [--embedding-dimensions N]

Files, in the shapes `switchyard mock-provider` produces for the same requests:
  chat.json        a non-streaming OpenAI chat.completion (~0.7 KB)
  chat.sse         a streamed chat.completion: a role chunk, N content chunks of --chunk-bytes characters,
                   a finish chunk, a usage chunk and `data: [DONE]`. Every chunk carries "usage" (null but
                   on the last), as an upstream answers when stream_options.include_usage is set; the gateway
                   always sets it upstream and strips the usage chunk for clients that did not ask for it.
  embeddings.json  an OpenAI embeddings answer with one fixed unit vector (so every lookup of the semantic
                   cache's arm is a hit at similarity 1)
  traces.json      `{}`, the OTLP/HTTP JSON answer to an export (nginx as a trace collector stand-in)
  mcp-initialize.json, mcp-tools.json, mcp-call.json
                   an MCP server's JSON-RPC answers to `initialize`, `tools/list` (one tool, `lookup`) and
                   `tools/call` (a ~0.4 KB text result), for the MCP arm's Streamable HTTP upstream
Stdlib only.
"""

import argparse
import json
import math
import os

ID = "chatcmpl-mock"
CREATED = 1_700_000_000
MODEL = "mock-gpt"
PROMPT_TOKENS = 270  # ~1077-byte request body / 4, as the mock estimates it
FILLER = "switchyard mock token stream "
ANSWER = (
    "This is a mock response to: Hi! I ordered a pair of trail running shoes two weeks ago (order #A-48213-77, "
    "size 43, colour slate blue) and the tracking page has said 'label created' for nine days now. I have a half "
    "marathon on the 14th and was hoping "
)


def dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def usage(completion_tokens):
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def chat_completion():
    return {
        "id": ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": ANSWER, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": usage(8),
        "system_fingerprint": "fp_mock",
    }


def chat_stream(chunks, chunk_bytes):
    def chunk(choice, chunk_usage=None):
        fields = {
            "id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL,
            "system_fingerprint": "fp_mock", "choices": [choice] if choice is not None else [],
            "usage": chunk_usage,
        }
        return "data: " + dumps(fields) + "\n\n"

    def delta(d, finish=None):
        return {"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}

    out = [chunk(delta({"role": "assistant", "content": ""}))]
    for index in range(chunks):
        piece = "".join(FILLER[(i + index) % len(FILLER)] for i in range(chunk_bytes))
        out.append(chunk(delta({"content": piece})))
    out.append(chunk(delta({}, "stop")))
    out.append(chunk(None, usage(chunks)))
    out.append("data: [DONE]\n\n")
    return "".join(out)


def embeddings(dimensions):
    # A fixed, deterministic unit vector with realistic-looking components.
    raw = [math.sin(1.7 * i + 0.3) for i in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    vector = [round(v / norm, 8) for v in raw]
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": vector}],
        "model": "mock-embedding",
        "usage": {"prompt_tokens": 64, "total_tokens": 64},
    }


MCP_TOOL = "lookup"
MCP_RESULT_TEXT = (
    "Order A-48213-77: trail running shoes, size 43, slate blue. Status: in transit since 2026-11-29, handed to "
    "the carrier (ParcelNet, tracking PN-7730-1842-55) after a label-printer fault delayed the first scan. Last "
    "scan: regional hub, 2026-12-05 18:42. Estimated delivery: 2026-12-09, before the 14th. No action needed."
)


def mcp_answers():
    # JSON-RPC ids are fixed: the gateway matches answers to requests by the exchange (one POST,
    # one answer), not by id, for JSON answers.
    initialize = {
        "jsonrpc": "2.0", "id": 1,
        "result": {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "bench-mcp", "version": "1.0.0"},
        },
    }
    tools = {
        "jsonrpc": "2.0", "id": 2,
        "result": {"tools": [{
            "name": MCP_TOOL,
            "description": "Looks up an order's shipping status.",
            "inputSchema": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "fields": {"type": "array", "items": {"type": "string"}}},
                "required": ["order_id"],
            },
        }]},
    }
    call = {"jsonrpc": "2.0", "id": 3, "result": {"content": [{"type": "text", "text": MCP_RESULT_TEXT}], "isError": False}}
    return {"mcp-initialize.json": dumps(initialize), "mcp-tools.json": dumps(tools), "mcp-call.json": dumps(call)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--chunk-bytes", type=int, default=90)
    parser.add_argument("--embedding-dimensions", type=int, default=256)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    files = {
        "chat.json": dumps(chat_completion()),
        "chat.sse": chat_stream(args.chunks, args.chunk_bytes),
        "embeddings.json": dumps(embeddings(args.embedding_dimensions)),
        "traces.json": "{}",
        **mcp_answers(),
    }
    for name, text in files.items():
        with open(os.path.join(args.out, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
