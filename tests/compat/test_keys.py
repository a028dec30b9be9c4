"""Virtual keys from the command line, used by the official SDK against a running gateway."""
import json
import subprocess
import time

import openai
import pytest

from conftest import _binary
from test_cli import start, stop

CONFIG = """
server: {port: 0, master_key: keys-test-master, reload_check_interval: off}
providers:
  - {name: mock, type: mock}
models:
  - {name: mock-gpt, provider: mock}
  - {name: other, provider: mock, model: o}
"""


def keys(config, *args):
    result = subprocess.run([_binary(), "keys", *args, "--config", str(config)], capture_output=True, text=True)
    return result


def test_cli_keys_work_with_the_sdk_until_revoked(tmp_path):
    config = tmp_path / "switchyard.yaml"
    config.write_text(CONFIG)
    created = keys(config, "create", "--name", "sdk-app", "--models", "mock-gpt", "--expires-in", "30d", "--budget", "5", "--budget-period", "weekly")
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    key = record["key"]
    assert key.startswith("sk-sy-") and record["status"] == "active"
    assert record["budget"] == {"amount": 5, "period": "weekly"}
    listed = keys(config, "list")
    assert key not in listed.stdout and record["id"] in listed.stdout
    assert key.encode() not in (tmp_path / "switchyard.db").read_bytes()

    process, address, _ = start(["serve", "--config", str(config)])
    try:
        client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0)
        reply = client.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "This is a mock response to: hi"
        with pytest.raises(openai.PermissionDeniedError) as denied:
            client.chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}])
        assert denied.value.code == "model_not_allowed"

        # Every verification the gateway remembers (for at most 5 s) happened before this.
        verified_by = time.time()
        revoked = keys(config, "revoke", record["id"])
        assert revoked.returncode == 0 and json.loads(revoked.stdout)["status"] == "revoked"
        # Revoked by another process (the CLI): the running gateway's verified-key cache lets it
        # work until at most 5 s after the key was verified. A request sent later than that must
        # be refused however slowly it is answered; `give_up` only bounds a failing run.
        give_up = time.monotonic() + 60
        while True:
            sent = time.time()
            try:
                client.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "hi"}])
            except openai.AuthenticationError as refused:
                assert refused.code == "key_revoked"
                break
            assert sent < verified_by + 5, "a request sent after the key cache's 5 s was still let through"
            assert time.monotonic() < give_up, "the revocation never took effect"
            time.sleep(0.25)
    finally:
        stop(process)
    assert keys(config, "rotate", "key_missing").returncode == 1
