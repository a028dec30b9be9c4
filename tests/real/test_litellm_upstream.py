"""A real OpenAI-compatible server as Switchyard's upstream: LiteLLM's proxy (pure Python, from
PyPI), itself in front of `switchyard mock-provider`, driven with the official SDKs:

    client (openai / anthropic SDK) -> Switchyard -> LiteLLM proxy -> mock provider

Run with `REAL_UPSTREAMS=1 scripts/test` (it installs `litellm[proxy]` into .venv-real); not part of
the default suite because the install takes minutes. LiteLLM sends its usage chunk with a
non-empty `choices` (`[{"index":0,"delta":{}}]`) and answers `x-request-id` with its own id: both
are shapes the built-in mock never produces.
"""
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import anthropic
import httpx
import openai
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("SWITCHYARD_BIN", str(ROOT / ".build" / "debug" / "switchyard"))
LITELLM = os.environ.get("LITELLM_BIN") or shutil.which("litellm") or str(pathlib.Path(sys.executable).parent / "litellm")
MESSAGES = [{"role": "user", "content": "Describe the harbour at dawn in a few sentences."}]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_logged(args, marker, env=None):
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    ready = threading.Event()
    found = {}
    lines = []

    def pump():
        for line in process.stdout:
            lines.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("msg") == marker:
                found["address"] = record["address"]
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60):
        process.kill()
        pytest.fail("did not start:\n" + "".join(lines[-40:]))
    return process, found["address"], lines


def _stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def chain():
    if not os.path.exists(LITELLM):
        pytest.skip("litellm is not installed (REAL_UPSTREAMS=1 scripts/test installs it)")
    mock, mock_address, _ = _start_logged([BIN, "mock-provider", "--port", "0"], "mock provider listening")
    litellm_key = "sk-litellm-" + secrets.token_hex(12)
    port = _free_port()
    env = dict(
        os.environ, LITELLM_MASTER_KEY=litellm_key, OPENAI_API_KEY="sk-upstream-unused", LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOG="ERROR")
    workdir = tempfile.mkdtemp(prefix="switchyard-real-")
    litellm_log = open(pathlib.Path(workdir) / "litellm.log", "w")
    proxy = subprocess.Popen(
        [LITELLM, "--host", "127.0.0.1", "--port", str(port), "--model", "openai/mock-gpt", "--api_base", mock_address],
        stdout=litellm_log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proxy.poll() is not None or time.monotonic() > deadline:
            _stop(mock)
            pytest.fail("the LiteLLM proxy did not start: " + (pathlib.Path(workdir) / "litellm.log").read_text()[-3000:])
        time.sleep(0.5)
    key = "sy-" + secrets.token_hex(12)
    config = pathlib.Path(workdir) / "switchyard.yaml"
    config.write_text(f"""
server:
  port: 0
  master_key: env:SWITCHYARD_REAL_KEY
  reload_check_interval: off
providers:
  - name: litellm
    type: openai-compatible
    base_url: http://127.0.0.1:{port}
    api_key: env:SWITCHYARD_REAL_PROVIDER_KEY
models:
  - name: via-litellm
    deployments: [{{provider: litellm, model: mock-gpt, price: {{input: 1000, output: 2000}}}}]
""")
    gateway_env = dict(os.environ, SWITCHYARD_REAL_KEY=key, SWITCHYARD_REAL_PROVIDER_KEY=litellm_key)
    gateway, address, _ = _start_logged([BIN, "serve", "--config", str(config)], "switchyard listening", env=gateway_env)
    yield address, key
    for process in (gateway, proxy, mock):
        _stop(process)
    litellm_log.close()
    shutil.rmtree(workdir, ignore_errors=True)


def _log(address, key, request_id):
    response = httpx.get(f"{address}/admin/logs/{request_id}", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_chat_through_litellm_is_answered_and_billed(chain):
    address, key = chain
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0, timeout=60)
    raw = client.chat.completions.with_raw_response.create(model="via-litellm", messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith("This is a mock response to")
    record = _log(address, key, raw.headers["x-switchyard-request-id"])
    assert record["completion_tokens"] > 0 and record["cost_usd"] > 0


def test_stream_with_include_usage_gets_one_usage_chunk(chain):
    address, key = chain
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0, timeout=60)
    chunks = list(client.chat.completions.create(
        model="via-litellm", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.startswith("This is a mock response to")
    usage = [chunk.usage for chunk in chunks if chunk.usage is not None]
    assert len(usage) == 1 and usage[0].completion_tokens > 0 and usage[0].prompt_tokens > 0


def test_stream_without_include_usage_is_still_billed(chain):
    address, key = chain
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0, timeout=60)
    raw = client.chat.completions.with_raw_response.create(model="via-litellm", messages=MESSAGES, stream=True)
    request_id = raw.headers["x-switchyard-request-id"]
    for _ in raw.parse():
        pass
    record = _log(address, key, request_id)
    assert record["completion_tokens"] > 0, record


def test_anthropic_sdk_through_litellm(chain):
    address, key = chain
    claude = anthropic.Anthropic(base_url=address, api_key=key, max_retries=0, timeout=60)
    with claude.messages.stream(model="via-litellm", max_tokens=200, messages=MESSAGES) as stream:
        for _ in stream:
            pass
        final = stream.get_final_message()
    assert final.content[0].text.startswith("This is a mock response to")
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_a_client_that_hangs_up_mid_stream_is_billed(chain):
    address, key = chain
    body = {"model": "via-litellm", "messages": MESSAGES, "stream": True, "mock": {"chunks": 200, "chunk_delay_ms": 20}}
    with httpx.Client(timeout=60) as http:
        with http.stream("POST", f"{address}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}) as response:
            request_id = response.headers["x-switchyard-request-id"]
            for _ in response.iter_bytes():
                break  # the first bytes arrived: hang up
    deadline = time.monotonic() + 30
    while True:
        response = httpx.get(f"{address}/admin/logs/{request_id}", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    record = response.json()
    # Ended by the hang-up, or complete if LiteLLM finished first: billed either way, never zero.
    assert record["outcome"] in ("client_disconnected", "success"), record
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0, record
