"""Exact token counts: the gateway's BPE tokenizers against OpenAI's tiktoken, on a random corpus."""
import hashlib
import json
import os
import shutil
import urllib.request

import pytest
import tiktoken

from conftest import ROOT
from test_cli import start, stop
from tokenizer_corpus import corpus

MASTER = "tokens-test-master"
CONFIG = f"""
server: {{port: 0, master_key: {MASTER}, reload_check_interval: off}}
providers:
  - {{name: mock, type: mock}}
models:
  - {{name: omni, provider: mock, model: gpt-4o}}
  - {{name: classic, provider: mock, model: gpt-4-turbo}}
  - {{name: local, provider: mock, model: llama-3-8b}}
"""
BLOBS = "https://openaipublic.blob.core.windows.net/encodings/"


@pytest.fixture(scope="module")
def encodings(tmp_path_factory):
    """tiktoken, offline: its cache holds the very files the gateway ships (tiktoken checks their hash)."""
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name in ("cl100k_base", "o200k_base"):
        key = hashlib.sha1((BLOBS + name + ".tiktoken").encode()).hexdigest()
        shutil.copy(ROOT / "Sources/SwitchyardCore/Resources/tokenizers" / f"{name}.tiktoken", cache / key)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    return {"omni": tiktoken.get_encoding("o200k_base"), "classic": tiktoken.get_encoding("cl100k_base")}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tokens")
    config = directory / "switchyard.yaml"
    config.write_text(CONFIG)
    process, address, _ = start(["serve", "--config", str(config)])
    yield address
    stop(process)


def count(address, body):
    request = urllib.request.Request(address + "/utils/token_counter", data=json.dumps(body).encode(), method="POST",
                                     headers={"authorization": f"Bearer {MASTER}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("model", ["omni", "classic"])
def test_text_counts_equal_tiktoken_on_a_random_corpus(gateway, encodings, model):
    encoding = encodings[model]
    texts = corpus(seed=20261127 + len(model), n=400)
    mismatches = []
    for text in texts:
        answer = count(gateway, {"model": model, "prompt": text})
        expected = len(encoding.encode_ordinary(text))
        if answer["total_tokens"] != expected:
            mismatches.append((text[:60], answer["total_tokens"], expected))
    assert answer["tokenizer_type"] == encoding.name
    assert not mismatches, f"{len(mismatches)} of {len(texts)} differ: {mismatches[:5]}"


def test_chat_prompts_are_counted_as_openai_frames_them(gateway, encodings):
    # OpenAI's published recipe: 3 tokens per message, +1 for a name, 3 to prime the reply.
    encoding = encodings["omni"]
    messages = [{"role": "system", "content": "You are terse."},
                {"role": "user", "name": "ada", "content": "Wie spät ist es in 東京? 🕰️"},
                {"role": "assistant", "content": "It's 9 o'clock."}]
    expected = 3 + sum(3 + len(encoding.encode(m["role"])) + len(encoding.encode(m["content"]))
                       + (1 + len(encoding.encode(m["name"])) if "name" in m else 0) for m in messages)
    assert count(gateway, {"model": "omni", "messages": messages})["total_tokens"] == expected


def test_other_models_are_estimated_and_say_so(gateway):
    answer = count(gateway, {"model": "local", "prompt": "The quick brown fox jumps over the lazy dog. " * 20})
    assert answer["tokenizer_type"] == "estimate" and answer["model_used"] == "llama-3-8b"
    assert 150 <= answer["total_tokens"] <= 260  # o200k says 201
