"""`/v1/files` and `/v1/batches` with the official OpenAI SDK: `files.create` + `batches.create`
through to a completed batch, its results read back with `files.content`.

The gateway runs the batch itself, line by line through its pipeline, against the mock provider;
and a deployment with `native_batches: true` hands it to Anthropic's Message Batches (a
`switchyard mock-provider` process plays Anthropic).
"""
import io
import json
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import openai
import pytest

from conftest import start_process


def _jsonl(lines):
    return io.BytesIO(("\n".join(json.dumps(line) for line in lines) + "\n").encode())


def _request(custom_id, content, **body):
    return {
        "custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "mock-gpt", "messages": [{"role": "user", "content": content}], **body},
    }


def _wait(client, batch_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired") or time.monotonic() > deadline:
            return batch
        time.sleep(0.1)


def test_a_batch_runs_to_completion_and_its_results_are_files(client):
    uploaded = client.files.create(
        file=("requests.jsonl", _jsonl([_request("first", "hello"), _request("second", "harbour"), {"custom_id": "broken"}])),
        purpose="batch",
    )
    assert uploaded.id.startswith("file-") and uploaded.purpose == "batch" and uploaded.filename == "requests.jsonl"
    assert client.files.retrieve(uploaded.id).bytes == uploaded.bytes
    assert uploaded.id in [file.id for file in client.files.list(purpose="batch")]

    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"run": "compat"})
    assert batch.status == "validating" and batch.metadata == {"run": "compat"}
    batch = _wait(client, batch.id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (3, 2, 1)
    assert batch.id in [item.id for item in client.batches.list()]

    results = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    assert [result["custom_id"] for result in results] == ["first", "second"]
    for result in results:
        assert result["response"]["status_code"] == 200
        assert result["response"]["body"]["object"] == "chat.completion"
        assert result["response"]["body"]["choices"][0]["message"]["content"]
    errors = [json.loads(line) for line in client.files.content(batch.error_file_id).text.splitlines()]
    assert errors[0]["custom_id"] == "broken" and errors[0]["error"]["code"] == "missing_url"

    deleted = client.files.delete(uploaded.id)
    assert deleted.deleted and deleted.id == uploaded.id
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_bad_batch_input_gets_openai_errors(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("data.csv", io.BytesIO(b"name,age\nada,36\n")), purpose="batch")
    assert "JSONL" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h")
    uploaded = client.files.create(file=("requests.jsonl", _jsonl([_request("a", "hi")])), purpose="batch")
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(input_file_id=uploaded.id, endpoint="/v1/audio/speech", completion_window="24h")
    assert caught.value.body["param"] == "endpoint"
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_missing")


def test_cancel_a_batch(client):
    # 50 ms per answer, so that the batch is still running when the cancel arrives (against a
    # release build the mock's 200 instant answers could all be in before it).
    lines = [_request(f"line-{index}", "hello", mock={"latency_ms": 50}) for index in range(200)]
    uploaded = client.files.create(file=("many.jsonl", _jsonl(lines)), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    cancelled = client.batches.cancel(batch.id)
    assert cancelled.status in ("cancelling", "cancelled")
    batch = _wait(client, batch.id)
    assert batch.status == "cancelled" and batch.cancelled_at
    assert batch.request_counts.completed < 200


def _resident_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_50_mb_upload_is_streamed_to_disk_without_growing_the_gateways_memory(client, gateway):
    client.files.create(file=("warm.bin", io.BytesIO(b"warm up")), purpose="user_data")
    data = bytes(range(256)) * (50 * 1024 * 1024 // 256)
    before = _resident_bytes(gateway.process.pid)
    uploaded = client.files.create(file=("big.bin", io.BytesIO(data)), purpose="user_data")
    after = _resident_bytes(gateway.process.pid)
    assert uploaded.bytes == len(data)
    assert after - before < 10 * 1024 * 1024, f"the gateway's resident memory grew by {after - before} bytes"
    assert client.files.content(uploaded.id).content == data
    client.files.delete(uploaded.id)


def test_a_batch_resumes_after_the_gateway_is_killed_and_never_sends_a_line_twice(tmp_path):
    """SIGKILL mid-batch, start again on the same database: the batch completes, every line is
    answered exactly once (in the output or, if it was in flight at the kill, in the error file
    as `interrupted`), and nothing is sent again."""
    import os
    import signal

    from conftest import CONFIG, KEY_VARIABLE, start_process, stop_process

    key = "sy-crash-test-key"
    config = tmp_path / "switchyard.yaml"
    config.write_text(CONFIG + "batches: {requests_per_second: 20, concurrency: 4}\n")

    def start():
        process, address, _ = start_process(
            ["serve", "--config", str(config), "--log-format", "json"], env=dict(os.environ, **{KEY_VARIABLE: key}))
        return process, openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0, timeout=30)

    count = 40
    # Each line takes 300 ms at the provider, so some are in flight at any moment.
    lines = [_request(f"c-{index}", "hello", mock={"latency_ms": 300}) for index in range(count)]
    process, client = start()
    try:
        uploaded = client.files.create(file=("crash.jsonl", _jsonl(lines)), purpose="batch")
        batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
        deadline = time.monotonic() + 30
        while client.batches.retrieve(batch.id).request_counts.completed < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    process, client = start()
    try:
        finished = _wait(client, batch.id)
        assert finished.status == "completed", finished
        counts = finished.request_counts
        assert counts.total == count and counts.completed + counts.failed == count
        answered = [json.loads(line) for line in client.files.content(finished.output_file_id).text.splitlines()]
        failed = []
        if finished.error_file_id:
            failed = [json.loads(line) for line in client.files.content(finished.error_file_id).text.splitlines()]
        assert failed, "the kill caught lines in flight"
        assert all(line["error"]["code"] == "interrupted" for line in failed)
        ids = [line["custom_id"] for line in answered] + [line["custom_id"] for line in failed]
        assert len(answered) == counts.completed and len(failed) == counts.failed
        assert sorted(ids) == sorted(f"c-{index}" for index in range(count)), "every line answered exactly once"
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def native_gateway():
    """A gateway whose model hands batches to Anthropic's Message Batches: a `switchyard
    mock-provider` process plays Anthropic, batch API included."""
    upstream, upstream_address, _ = start_process(["mock-provider", "--port", "0"], "mock provider listening")
    key = "sy-" + secrets.token_hex(8)
    workdir = tempfile.mkdtemp(prefix="switchyard-native-batches-")
    config = pathlib.Path(workdir) / "switchyard.yaml"
    config.write_text(f"""
server:
  port: 0
  master_key: env:SWITCHYARD_NATIVE_KEY
  reload_check_interval: off
providers:
  - name: claude
    type: anthropic
    base_url: {upstream_address.removesuffix('/v1')}
    api_key: env:SWITCHYARD_NATIVE_PROVIDER_KEY
models:
  - name: claude-batch
    aliases: [claude-alias]
    provider: claude
    model: claude-mock
    native_batches: true
    price: {{input: 3, output: 15}}
batches:
  poll_interval: 100ms
""")
    env = dict(os.environ, SWITCHYARD_NATIVE_KEY=key, SWITCHYARD_NATIVE_PROVIDER_KEY="sk-ant-native-secret")
    gateway, address, _ = start_process(["serve", "--config", str(config)], env=env)
    yield address, key, upstream_address.removesuffix('/v1')
    for process in (gateway, upstream):
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(workdir, ignore_errors=True)


def test_a_batch_runs_natively_on_anthropic_message_batches(native_gateway):
    address, key, upstream = native_gateway
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0, timeout=30)
    lines = [
        {"custom_id": "first question", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "claude-batch", "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}},
        {"custom_id": "second/question", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "claude-alias", "max_tokens": 64, "messages": [{"role": "user", "content": "harbour"}]}},
    ]
    uploaded = client.files.create(file=("native.jsonl", _jsonl(lines)), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.id.startswith("batch_") and batch.status == "validating"
    batch = _wait(client, batch.id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (2, 2, 0)
    assert batch.error_file_id is None
    results = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    assert [result["custom_id"] for result in results] == ["first question", "second/question"]
    for result, prompt in zip(results, ["hello", "harbour"]):
        assert result["response"]["status_code"] == 200
        body = result["response"]["body"]
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"] == f"This is a mock response to: {prompt}"
        assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0
    # The provider's batch and key stay behind the gateway.
    shown = client.batches.retrieve(batch.id).model_dump_json()
    assert "msgbatch" not in shown and "sk-ant-native-secret" not in shown
    stats = json.loads(urllib.request.urlopen(upstream + "/mock/stats").read())
    assert stats["batches_created"] == 1 and stats["batch_requests_run"] == 2
