"""Schemathesis (property-based API testing) against a live gateway, driven by the gateway's own
OpenAPI document (`/admin/openapi.json`, which lists every route: see OpenAPITests).

Every operation of the document gets the documented examples, boundary values from the schemas
(the coverage phase), random requests generated from them (fuzzing) and chains of calls that
follow the document's links (stateful). The check is that no request makes the gateway answer
with a server error (5xx) or drop the connection: whatever a client sends, it gets an answer in
its dialect. A gateway of its own (never the session's), since fuzzing creates keys, teams and
budgets at random.

The seed is fixed so that a failure reproduces; SCHEMATHESIS_SEED picks another one and
SCHEMATHESIS_EXAMPLES the examples per operation (default 15, about a minute on two cores).
"""
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import start_process, stop_process

CONFIG = """
server:
  host: 127.0.0.1
  port: 0
  master_key: env:SCHEMATHESIS_MASTER_KEY
  max_body_size: 64KiB
  reload_check_interval: off
cache:
  enabled: true
guardrails:
  - {name: pii, detector: pii, action: mask}
providers:
  - name: mock
    type: mock
models:
  - name: mock-gpt
    provider: mock
  - name: mock-embedding
    provider: mock
"""


def _schemathesis() -> str:
    path = shutil.which("st", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if path is None:
        pytest.skip("schemathesis (st) is not installed: pip install -r tests/compat/requirements.txt")
    return path


def test_no_request_generated_from_the_openapi_document_makes_a_server_error():
    st = _schemathesis()
    key = "sk-master-" + secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="switchyard-schemathesis-")
    config = pathlib.Path(workdir) / "switchyard.yaml"
    config.write_text(CONFIG)
    env = dict(os.environ, SCHEMATHESIS_MASTER_KEY=key)
    process, address, log = start_process(["serve", "--config", str(config), "--log-format", "json"], env=env, cwd=workdir)
    try:
        result = subprocess.run(
            [
                st, "run", f"{address}/admin/openapi.json",
                "--header", f"Authorization: Bearer {key}",
                "--checks", "not_a_server_error",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "15"),
                "--seed", os.environ.get("SCHEMATHESIS_SEED", "20261206"),
                "--workers", "2",
                "--no-color",
            ],
            capture_output=True, text=True, timeout=600, cwd=workdir,
        )
        summary = result.stdout[-6000:]
        assert result.returncode == 0, f"schemathesis found server errors:\n{summary}\n{result.stderr[-2000:]}"
        assert " passed" in summary and "generated" in summary, summary
        # The run reached the API: it generated requests for every operation of the document.
        assert "Tested: " in summary
    finally:
        status = stop_process(process)
        shutil.rmtree(workdir, ignore_errors=True)
    assert process.poll() is not None
    assert status == 0, "the gateway did not shut down cleanly after the run:\n" + "".join(log[-40:])
