"""Starts a real Switchyard gateway (the debug binary) for the compatibility suite.

The gateway serves the built-in mock provider, so the suite runs offline; the mock is steered per
request with a "mock" object in the body (extra_body= in the SDK), which the gateway forwards.
"""
import json
import os
import pathlib
import secrets
import signal
import subprocess
import tempfile
import threading
import time

import openai
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _binary() -> str:
    path = os.environ.get("SWITCHYARD_BIN", str(ROOT / ".build" / "debug" / "switchyard"))
    if not os.path.exists(path):
        pytest.exit(f"gateway binary not found at {path}; run 'swift build' or set SWITCHYARD_BIN", returncode=2)
    return path


CONFIG = """
server:
  host: 127.0.0.1
  port: 0
  master_key: env:SWITCHYARD_COMPAT_KEY
  max_body_size: 64KiB
  reload_check_interval: off
providers:
  - name: mock
    type: mock
models:
  - name: mock-gpt
    provider: mock
    aliases: [mock]
  - name: mock-embedding
    provider: mock
"""


class Gateway:
    def __init__(self, base_url: str, key: str, process: subprocess.Popen, log: list):
        self.base_url = base_url
        self.key = key
        self.process = process
        self.log = log


@pytest.fixture(scope="session")
def gateway():
    key = "sy-" + secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="switchyard-compat-")
    config = pathlib.Path(workdir) / "switchyard.yaml"
    config.write_text(CONFIG)
    env = dict(os.environ, SWITCHYARD_COMPAT_KEY=key)
    process = subprocess.Popen(
        [_binary(), "serve", "--config", str(config), "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    log: list = []
    ready = threading.Event()
    address = {}

    def pump():
        for line in process.stdout:
            log.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("msg") == "switchyard listening":
                address["url"] = record["address"]
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(30):
        process.kill()
        pytest.exit("gateway did not start:\n" + "".join(log), returncode=2)
    yield Gateway(address["url"], key, process, log)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=gateway.key, max_retries=0, timeout=30)
