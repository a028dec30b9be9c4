#!/usr/bin/env python3
"""Writes the upstream answers the micro-benchmarks feed to the gateway's code, into Fixtures/.

    python3 benchmarks/micro/fixtures.py [--chunks N] [--chunk-bytes N]

The OpenAI-dialect files are exactly what benchmarks/upstream.py serves to the wrk benchmark
(its functions are imported): a ~0.7 KB chat.completion and a stream of a role chunk, N (50)
content chunks of 90 characters, a finish chunk, a usage chunk and `data: [DONE]`. The Anthropic
and Gemini files carry the same answer and the same N text pieces in those providers' shapes
(Messages API events; Gemini `streamGenerateContent?alt=sse` partial responses), so that the
three dialects' decoders are measured on the same content. Stdlib only.
"""

import argparse
import importlib.util
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("upstream", os.path.join(HERE, "..", "upstream.py"))
upstream = importlib.util.module_from_spec(spec)
spec.loader.exec_module(upstream)

dumps = upstream.dumps


def pieces(chunks, chunk_bytes):
    # The same text pieces as upstream.chat_stream.
    f = upstream.FILLER
    return ["".join(f[(i + index) % len(f)] for i in range(chunk_bytes)) for index in range(chunks)]


def anthropic_message():
    return {
        "id": "msg_mock", "type": "message", "role": "assistant", "model": "claude-mock",
        "content": [{"type": "text", "text": upstream.ANSWER}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": upstream.PROMPT_TOKENS, "output_tokens": 8,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def anthropic_stream(chunks, chunk_bytes):
    def event(kind, data):
        data = {"type": kind, **data}
        return "event: " + kind + "\ndata: " + dumps(data) + "\n\n"

    start = anthropic_message()
    start.update({"content": [], "stop_reason": None})
    start["usage"] = {**start["usage"], "output_tokens": 1}
    out = [event("message_start", {"message": start}),
           event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
           event("ping", {})]
    for piece in pieces(chunks, chunk_bytes):
        out.append(event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}}))
    out.append(event("content_block_stop", {"index": 0}))
    out.append(event("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                       "usage": {"output_tokens": chunks}}))
    out.append(event("message_stop", {}))
    return "".join(out)


def gemini_usage(candidates):
    return {"promptTokenCount": upstream.PROMPT_TOKENS, "candidatesTokenCount": candidates,
            "totalTokenCount": upstream.PROMPT_TOKENS + candidates}


def gemini_response():
    return {
        "candidates": [{"content": {"parts": [{"text": upstream.ANSWER}], "role": "model"},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": gemini_usage(8), "modelVersion": "gemini-mock", "responseId": "mock",
    }


def gemini_stream(chunks, chunk_bytes):
    out = []
    texts = pieces(chunks, chunk_bytes)
    for index, piece in enumerate(texts):
        candidate = {"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}
        last = index == len(texts) - 1
        if last:
            candidate["finishReason"] = "STOP"
        response = {"candidates": [candidate], "usageMetadata": gemini_usage(index + 1 if last else 0),
                    "modelVersion": "gemini-mock", "responseId": "mock"}
        if not last:
            del response["usageMetadata"]["candidatesTokenCount"]
        out.append("data: " + dumps(response) + "\r\n\r\n")
    return "".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--chunk-bytes", type=int, default=90)
    args = parser.parse_args()
    out = os.path.join(HERE, "Fixtures")
    os.makedirs(out, exist_ok=True)
    files = {
        "openai-chat.json": dumps(upstream.chat_completion()),
        "openai-chat.sse": upstream.chat_stream(args.chunks, args.chunk_bytes),
        "anthropic-message.json": dumps(anthropic_message()),
        "anthropic-message.sse": anthropic_stream(args.chunks, args.chunk_bytes),
        "gemini-response.json": dumps(gemini_response()),
        "gemini-response.sse": gemini_stream(args.chunks, args.chunk_bytes),
    }
    for name, text in files.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
