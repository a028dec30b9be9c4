"""Starts a real Switchyard gateway (the debug binary) for the compatibility suite.

The gateway serves the built-in mock provider, so the suite runs offline; the mock is steered per
request with a "mock" object in the body (extra_body= in the SDK), which the gateway forwards.

SWITCHYARD_BIN names the binary (default: .build/debug/switchyard under the repository root).
"""
import json
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import openai
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30
KEY_VARIABLE = "SWITCHYARD_COMPAT_KEY"


def _binary() -> str:
    path = os.environ.get("SWITCHYARD_BIN", str(ROOT / ".build" / "debug" / "switchyard"))
    if not os.path.isabs(path):
        path = str(ROOT / path)
    if not os.path.exists(path):
        pytest.exit(f"gateway binary not found at {path}; run 'swift build' or set SWITCHYARD_BIN", returncode=2)
    return path


CONFIG = f"""
server:
  host: 127.0.0.1
  port: 0
  master_key: env:{KEY_VARIABLE}
  max_body_size: 64KiB
  reload_check_interval: off
# Tests steer failures per request through the mock, so one test's simulated outage must not
# trip a breaker for the next: breakers are tested in the Swift suite.
router:
  circuit_breaker: false
providers:
  - name: mock
    type: mock
  - name: mock-limited       # answers 429 + Retry-After in tests without cooling down mock-gpt
    type: mock
models:
  - name: mock-gpt
    provider: mock
    aliases: [mock]
  - name: mock-embedding
    provider: mock
  - name: mock-limited
    provider: mock-limited
    model: mock-gpt
"""


class Gateway:
    def __init__(self, base_url: str, key: str, process: subprocess.Popen, log: list):
        self.base_url = base_url
        self.key = key
        self.process = process
        self.log = log

    @property
    def api_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def auth(self) -> dict:
        return {"authorization": f"Bearer {self.key}"}


# The running gateway's log lines, shown with a failing test's report.
_gateway_log: list = []


@pytest.fixture(scope="session")
def gateway():
    key = "sy-" + secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="switchyard-compat-")
    config = pathlib.Path(workdir) / "switchyard.yaml"
    config.write_text(CONFIG)
    env = dict(os.environ, **{KEY_VARIABLE: key})
    process = subprocess.Popen(
        [_binary(), "serve", "--config", str(config), "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    log = _gateway_log
    log.clear()
    ready = threading.Event()
    address = {}

    def pump():
        for line in process.stdout:
            log.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("msg") == "switchyard listening":
                address["url"] = record["address"]
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not ready.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            reason = f"exited with status {process.returncode}" if process.poll() is not None else f"did not start in {STARTUP_TIMEOUT_S}s"
            process.kill()
            process.wait()
            shutil.rmtree(workdir, ignore_errors=True)
            pytest.exit(f"gateway {reason}:\n" + "".join(log), returncode=2)
    try:
        yield Gateway(address["url"], key, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    with openai.OpenAI(base_url=gateway.api_url, api_key=gateway.key, max_retries=0, timeout=30) as client:
        yield client


@pytest.fixture
def async_client(gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.api_url, api_key=gateway.key, max_retries=0, timeout=30)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "gateway" in getattr(item, "fixturenames", ()) and _gateway_log:
        report.sections.append(("gateway log (last 40 lines)", "".join(_gateway_log[-40:])))


def start_process(args, marker="switchyard listening", env=None, cwd=None, timeout=STARTUP_TIMEOUT_S, binary=None):
    """Runs the gateway binary (or `binary`) with `args` and waits for its JSON log line `marker` (the listening
    line, which carries the address). Returns the process, its address and its log lines so far
    (the list keeps filling)."""
    process = subprocess.Popen(
        [binary or _binary(), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    )
    lines, found, ready = [], {}, threading.Event()

    def pump():
        for line in process.stdout:
            lines.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("msg") == marker:
                found["address"] = record["address"].replace("0.0.0.0", "127.0.0.1")
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout):
        process.kill()
        process.wait()
        pytest.fail(f"{args[0]} did not start:\n" + "".join(lines))
    return process, found["address"], lines


def stop_process(process, timeout=15):
    """SIGTERM, then SIGKILL if it does not exit in time; returns the exit status."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
