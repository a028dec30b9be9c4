"""The command line as users run it: check-config, the embedded default, the mock provider."""
import json
import os
import pathlib
import re
import signal
import subprocess

import httpx

from conftest import _binary, start_process

ROOT = pathlib.Path(__file__).resolve().parents[2]


def start(args, env=None, marker="switchyard listening"):
    return start_process(args, marker, env=env)


def stop(process):
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0


def test_check_config_reports_every_problem_with_location(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("server:\n  prot: 8080\nproviders:\n  - name: a\n    type: opnai\nmodels:\n  - name: m\n    provider: b\n")
    result = subprocess.run([_binary(), "check-config", str(config)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{config}:2:3: error: unknown key 'server.prot'" in result.stderr
    assert "did you mean 'port'?" in result.stderr
    assert f"{config}:5:11: error: provider 'a' has unknown type 'opnai'" in result.stderr
    assert f"{config}:7:5: error: model 'm' refers to unknown provider 'b'" in result.stderr


def test_check_config_accepts_the_example(tmp_path):
    env = dict(os.environ, OPENAI_API_KEY="sk-test", SWITCHYARD_MASTER_KEY="k")
    example = os.path.join(os.path.dirname(__file__), "..", "..", "switchyard.example.yaml")
    result = subprocess.run([_binary(), "check-config", example], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_serve_refuses_an_invalid_file_at_start(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("providers:\n  - name: a\n    type: openai\n    api_key: env:SWITCHYARD_SURELY_UNSET\n")
    result = subprocess.run([_binary(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "SWITCHYARD_SURELY_UNSET is not set" in result.stderr


def test_embedded_default_answers_offline_and_never_logs_keys():
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["OPENAI_API_KEY"] = "sk-should-never-appear-in-logs-123456"
    process, address, lines = start(["serve", "--port", "0"], env=env)
    try:
        models = httpx.get(address + "/v1/models").json()
        ids = [model["id"] for model in models["data"]]
        assert "mock-gpt" in ids and "gpt-4o" in ids
        reply = httpx.post(address + "/v1/chat/completions", json={"model": "mock", "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status_code == 200
        assert reply.json()["choices"][0]["message"]["content"] == "This is a mock response to: hi"
        ready = httpx.get(address + "/health/ready").json()
        assert ready["status"] == "ready"
        metrics = httpx.get(address + "/metrics").text
        assert "switchyard_requests_total" in metrics
    finally:
        stop(process)
    assert not any("sk-should-never-appear" in line for line in lines)
    assert any('"msg":"request"' in line for line in lines), "access log line missing"


def test_one_version_everywhere(tmp_path):
    """SwitchyardVersion.current is what --version, the health routes and the OpenAPI document say."""
    source = (ROOT / "Sources" / "SwitchyardCore" / "Version.swift").read_text()
    version = re.search(r'current = "([^"]+)"', source).group(1)
    printed = subprocess.run([_binary(), "--version"], capture_output=True, text=True)
    assert printed.returncode == 0 and printed.stdout.strip() == version
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {version}" in changelog
    config = tmp_path / "switchyard.yaml"
    config.write_text("server: {port: 0, master_key: env:VERSION_TEST_KEY}\nproviders: [{name: mock, type: mock}]\nmodels: [{name: mock-gpt, provider: mock}]\n")
    process, address, _ = start(["serve", "--config", str(config)], env=dict(os.environ, VERSION_TEST_KEY="sk-version"))
    try:
        assert httpx.get(address + "/health/live").json() == {"status": "ok", "version": version}
        assert httpx.get(address + "/health/ready").json()["version"] == version
        document = httpx.get(address + "/admin/openapi.json", headers={"authorization": "Bearer sk-version"}).json()
        assert document["info"]["version"] == version
    finally:
        stop(process)


def test_mock_provider_command_knobs():
    process, address, _ = start(["mock-provider", "--port", "0", "--chunks", "5"], marker="mock provider listening")
    try:
        base = address  # ends with /v1
        body = {"model": "mock-gpt", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        with httpx.stream("POST", base + "/chat/completions", json=body) as response:
            events = [line for line in response.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]"
        contents = [json.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[:-1]]
        assert len([c for c in contents if c]) == 5
        limited = httpx.post(base + "/chat/completions", json={**body, "stream": False}, headers={"x-mock-status": "429", "x-mock-retry-after": "2"})
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
        stats = httpx.get(base.removesuffix("/v1") + "/mock/stats").json()
        assert stats["requests"] == 2
    finally:
        stop(process)
