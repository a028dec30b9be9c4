"""Routing as users meet it: the official SDK against fallbacks and canaries, the access log,
and `switchyard route explain` on the command line."""
import json
import subprocess

import openai

from conftest import _binary
from test_cli import start, stop

CONFIG = """
server: {port: 0, master_key: routing-test-key, reload_check_interval: off}
providers:
  - {name: broken, type: mock, options: {fail_percent: "100"}}
  - {name: stable, type: mock, options: {content: stable answer}}
  - {name: candidate, type: mock, options: {content: candidate answer}}
models:
  - {name: primary, provider: broken, model: m, retry: {attempts: 1, backoff: 5ms}, fallbacks: [backup]}
  - {name: backup, provider: stable, model: m}
  - {name: candidate-model, provider: candidate, model: m}
  - name: assistant
    experiment:
      name: canary
      arms: [{name: control, model: backup, weight: 50}, {name: canary, model: candidate-model, weight: 50}]
routing_rules:
  - {name: eu, when: {headers: {x-data-residency: eu}}, route_to: candidate-model}
"""


def test_sdk_sees_fallbacks_and_sticky_canaries_and_the_log_records_them(tmp_path):
    config = tmp_path / "routing.yaml"
    config.write_text(CONFIG)
    process, address, lines = start(["serve", "--config", str(config)])
    try:
        client = openai.OpenAI(base_url=address + "/v1", api_key="routing-test-key", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="primary", messages=[{"role": "user", "content": "hi"}])
        assert raw.headers["x-switchyard-fallback-from"] == "primary"
        assert raw.headers["x-switchyard-attempts"] == "3"
        assert raw.parse().choices[0].message.content == "stable answer"

        chunks = list(client.chat.completions.create(model="primary", messages=[{"role": "user", "content": "hi"}], stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "stable answer"

        arms = set()
        for _ in range(5):
            reply = client.chat.completions.with_raw_response.create(
                model="assistant", user="bob", messages=[{"role": "user", "content": "hi"}])
            arms.add(reply.headers["x-switchyard-experiment"])
        assert len(arms) == 1, "one user, one arm"
    finally:
        stop(process)
    records = [json.loads(line) for line in lines if line.startswith("{")]
    requests = [r for r in records if r.get("msg") == "request"]
    fallback = next(r for r in requests if r.get("fallbacks"))
    assert fallback["fallbacks"] == ["backup"]
    assert fallback["attempts"] == 3
    assert fallback["attempt_outcomes"][0].startswith("broken/m:")
    assert any(r.get("experiment") == "canary" and r.get("experiment_arm") in ("control", "canary") for r in requests)


def test_route_explain_on_the_command_line(tmp_path):
    config = tmp_path / "routing.yaml"
    config.write_text(CONFIG)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model": "assistant", "user": "alice", "messages": [{"role": "user", "content": "hi"}]}))
    result = subprocess.run(
        [_binary(), "route", "explain", "--config", str(config), "--request", str(request)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    explained = json.loads(result.stdout)
    assert explained["experiment"]["name"] == "canary"
    assert explained["model_group"] in ("backup", "candidate-model")
    assert explained["selected"] in ("stable/m", "candidate/m")

    ruled = subprocess.run(
        [_binary(), "route", "explain", "--config", str(config), "--request", str(request), "--header", "X-Data-Residency: eu"],
        capture_output=True, text=True)
    assert json.loads(ruled.stdout)["rule"] == "eu"

    missing = tmp_path / "unknown.json"
    missing.write_text(json.dumps({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}))
    refused = subprocess.run(
        [_binary(), "route", "explain", "--config", str(config), "--request", str(missing)], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "404" in refused.stderr
