"""What the real-upstream tests share: starting processes and waiting for them, a Switchyard
gateway configured in front of an upstream, and reading the usage ledger back.

Each test file starts its own upstream (LiteLLM's proxy, llama-cpp-python's server) and then
`start_gateway` with the providers and models that point at it.
"""
import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass

import anthropic
import httpx
import openai
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("SWITCHYARD_BIN", str(ROOT / ".build" / "debug" / "switchyard"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_logged(args, marker, env=None):
    """Starts a Switchyard process (gateway or mock provider) and waits for its JSON log line
    `marker`; answers the process and the address it logged."""
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
    return process, found["address"]


def wait_until_serving(process, url, log_path, timeout_s=180):
    """Polls `url` until it answers 200 (the upstream's health or models route); fails with the
    end of the upstream's log when the process exits or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            pytest.fail(f"the upstream at {url} did not start: " + pathlib.Path(log_path).read_text()[-3000:])
        time.sleep(0.5)


def stop(process):
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Gateway:
    """A running gateway: its address, the master key, and the model name to call."""

    address: str
    key: str
    model: str
    process: subprocess.Popen

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.address + "/v1", api_key=self.key, max_retries=0, timeout=120)

    def anthropic(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.address, api_key=self.key, max_retries=0, timeout=120)

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"}

    def record(self, request_id, timeout_s=30):
        """The request's usage-ledger row (`GET /admin/logs/{id}`), waited for: a stream's row is
        written when the gateway has settled it, which may be after the client saw the end."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = httpx.get(f"{self.address}/admin/logs/{request_id}", headers=self.auth, timeout=10)
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert response.status_code == 200, response.text
        return response.json()


def start_gateway(workdir, providers_and_models, model, env=None):
    """Starts `switchyard serve` with the given `providers:` and `models:` YAML under a fresh
    master key, its database beside the config in `workdir`; the caller stops `gateway.process`."""
    key = "sy-" + secrets.token_hex(12)
    config = pathlib.Path(workdir) / "switchyard.yaml"
    config.write_text(f"""
server:
  port: 0
  master_key: env:SWITCHYARD_REAL_KEY
  reload_check_interval: off
{providers_and_models}
""")
    gateway_env = dict(os.environ, SWITCHYARD_REAL_KEY=key, **(env or {}))
    process, address = start_logged([BIN, "serve", "--config", str(config)], "switchyard listening", env=gateway_env)
    return Gateway(address=address, key=key, model=model, process=process)


def stream_chat(gateway, messages, **options):
    """Streams a chat completion through the gateway with the OpenAI SDK; answers the text, the
    chunks that carried usage, and the gateway's request id."""
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model=gateway.model, messages=messages, stream=True, **options)
    chunks = list(raw.parse())
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    usage = [chunk.usage for chunk in chunks if chunk.usage is not None]
    return text, usage, raw.headers["x-switchyard-request-id"]


def hang_up_after_first_bytes(gateway, body):
    """Streams `body` to /v1/chat/completions with httpx and closes the connection as soon as the
    first bytes arrive; answers the gateway's request id."""
    with httpx.Client(timeout=120) as http:
        with http.stream("POST", f"{gateway.address}/v1/chat/completions", json=body, headers=gateway.auth) as response:
            assert response.status_code == 200, response.read()
            request_id = response.headers["x-switchyard-request-id"]
            for _ in response.iter_bytes():
                break
    return request_id
