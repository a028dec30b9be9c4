"""A real OpenAI-compatible server as Switchyard's upstream: LiteLLM's proxy (pure Python, from
PyPI), itself in front of `switchyard mock-provider`, driven with the official SDKs:

    client (openai / anthropic SDK) -> Switchyard -> LiteLLM proxy -> mock provider

Run with `REAL_UPSTREAMS=1 scripts/test` (it installs `litellm[proxy]` into .venv-litellm); not part of
the default suite because the install takes minutes. LiteLLM sends its usage chunk with a
non-empty `choices` (`[{"index":0,"delta":{}}]`) and answers `x-request-id` with its own id: both
are shapes the built-in mock never produces.
"""
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile

import pytest

from upstream_harness import BIN, free_port, hang_up_after_first_bytes, start_gateway, start_logged, stop, stream_chat, wait_until_serving

LITELLM = os.environ.get("LITELLM_BIN") or shutil.which("litellm") or str(pathlib.Path(sys.executable).parent / "litellm")
MESSAGES = [{"role": "user", "content": "Describe the harbour at dawn in a few sentences."}]


@pytest.fixture(scope="module")
def chain():
    if not os.path.exists(LITELLM):
        pytest.skip("litellm is not installed (REAL_UPSTREAMS=1 scripts/test installs it)")
    mock, mock_address = start_logged([BIN, "mock-provider", "--port", "0"], "mock provider listening")
    litellm_key = "sk-litellm-" + secrets.token_hex(12)
    port = free_port()
    env = dict(
        os.environ, LITELLM_MASTER_KEY=litellm_key, OPENAI_API_KEY="sk-upstream-unused", LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOG="ERROR")
    workdir = tempfile.mkdtemp(prefix="switchyard-real-")
    log_path = pathlib.Path(workdir) / "litellm.log"
    litellm_log = open(log_path, "w")
    proxy = subprocess.Popen(
        [LITELLM, "--host", "127.0.0.1", "--port", str(port), "--model", "openai/mock-gpt", "--api_base", mock_address],
        stdout=litellm_log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    try:
        wait_until_serving(proxy, f"http://127.0.0.1:{port}/health/liveliness", log_path, timeout_s=120)
    except BaseException:
        stop(mock)
        raise
    gateway = start_gateway(workdir, f"""
providers:
  - name: litellm
    type: openai-compatible
    base_url: http://127.0.0.1:{port}
    api_key: env:SWITCHYARD_REAL_PROVIDER_KEY
models:
  - name: via-litellm
    deployments: [{{provider: litellm, model: mock-gpt, price: {{input: 1000, output: 2000}}}}]
""", model="via-litellm", env={"SWITCHYARD_REAL_PROVIDER_KEY": litellm_key})
    yield gateway
    for process in (gateway.process, proxy, mock):
        stop(process)
    litellm_log.close()
    shutil.rmtree(workdir, ignore_errors=True)


def test_chat_through_litellm_is_answered_and_billed(chain):
    raw = chain.openai().chat.completions.with_raw_response.create(model=chain.model, messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith("This is a mock response to")
    record = chain.record(raw.headers["x-switchyard-request-id"])
    assert record["completion_tokens"] > 0 and record["cost_usd"] > 0
    assert record["usage_source"] == "provider", record


def test_stream_with_include_usage_gets_one_usage_chunk(chain):
    text, usage, _ = stream_chat(chain, MESSAGES, stream_options={"include_usage": True})
    assert text.startswith("This is a mock response to")
    assert len(usage) == 1 and usage[0].completion_tokens > 0 and usage[0].prompt_tokens > 0


def test_stream_without_include_usage_is_still_billed(chain):
    text, usage, request_id = stream_chat(chain, MESSAGES)
    assert text.startswith("This is a mock response to") and usage == []
    record = chain.record(request_id)
    assert record["completion_tokens"] > 0, record


def test_anthropic_sdk_through_litellm(chain):
    with chain.anthropic().messages.stream(model=chain.model, max_tokens=200, messages=MESSAGES) as stream:
        for _ in stream:
            pass
        final = stream.get_final_message()
    assert final.content[0].text.startswith("This is a mock response to")
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_a_client_that_hangs_up_mid_stream_is_billed(chain):
    request_id = hang_up_after_first_bytes(chain, {
        "model": chain.model, "messages": MESSAGES, "stream": True, "mock": {"chunks": 200, "chunk_delay_ms": 20}})
    record = chain.record(request_id)
    # Ended by the hang-up, or complete if LiteLLM finished first: billed either way, never zero.
    assert record["outcome"] in ("client_disconnected", "success"), record
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0, record
