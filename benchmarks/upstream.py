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
    }
    for name, text in files.items():
        with open(os.path.join(args.out, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
