"""The release tarball from scripts/package, used as someone without a Swift toolchain would.

scripts/test packages the debug build it has just compiled (`scripts/package --debug`: only the
link step runs again, with the static Swift standard library) and passes the tarball's path in
SWITCHYARD_PACKAGE. The tarball is extracted into an empty directory, the binary is run from there
with a bare environment, and it must pass check-config on the example configuration and serve the
OpenAI SDK, tokenizer vocabularies (a resource bundle next to the binary) included.
"""
import json
import os
import pathlib
import shutil
import subprocess
import tarfile

import httpx
import openai
import pytest

from conftest import start_process, stop_process

PACKAGE = os.environ.get("SWITCHYARD_PACKAGE")
pytestmark = pytest.mark.skipif(not PACKAGE, reason="SWITCHYARD_PACKAGE is not set (scripts/test sets it)")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    tarball = pathlib.Path(PACKAGE)
    name = tarball.name
    assert name.startswith("switchyard-") and name.endswith(".tar.gz")
    version, _, platform = name[len("switchyard-") : -len(".tar.gz")].partition("-")
    assert platform == f"linux-{os.uname().machine}"
    directory = tmp_path_factory.mktemp("empty")
    assert list(directory.iterdir()) == []
    with tarfile.open(tarball) as archive:
        archive.extractall(directory, filter="data")
    (top,) = list(directory.iterdir())
    assert top.name == f"switchyard-{version}-{platform}"
    return top, version


def bare_environment(**extra):
    """No toolchain on PATH, no library path: what a fresh machine has."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), **extra}


def test_tarball_holds_binary_resources_config_and_licence(extracted):
    top, version = extracted
    names = {path.name for path in top.iterdir()}
    assert {"switchyard", "switchyard_SwitchyardCore.resources", "switchyard.example.yaml", "LICENSE", "README.md", "CHANGELOG.md"} <= names
    assert os.access(top / "switchyard", os.X_OK)
    assert "Apache License" in (top / "LICENSE").read_text()
    assert f"## {version}" in (top / "CHANGELOG.md").read_text() or "## Unreleased" in (top / "CHANGELOG.md").read_text()
    linked = subprocess.run(["ldd", str(top / "switchyard")], capture_output=True, text=True).stdout
    assert "libswiftCore" not in linked and "libFoundation" not in linked, linked


def test_version_matches_the_tarball_name(extracted):
    top, version = extracted
    result = subprocess.run([str(top / "switchyard"), "--version"], capture_output=True, text=True, env=bare_environment())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == version


def test_example_configuration_passes_check_config(extracted):
    top, _ = extracted
    env = bare_environment(OPENAI_API_KEY="sk-test", SWITCHYARD_MASTER_KEY="k")
    result = subprocess.run(
        ["./switchyard", "check-config", "switchyard.example.yaml"], cwd=top, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "switchyard.example.yaml: OK" in result.stdout


def test_extracted_gateway_serves_the_openai_sdk(extracted, tmp_path):
    top, version = extracted
    key = "sk-package-test"
    # The example configuration, on a free port, from a directory of its own (the database is
    # created next to the file).
    config = tmp_path / "switchyard.yaml"
    shutil.copy(top / "switchyard.example.yaml", config)
    env = bare_environment(OPENAI_API_KEY="sk-test", SWITCHYARD_MASTER_KEY=key)
    process, base, lines = start_process(["serve", "--config", str(config), "--port", "0"], env=env, cwd=tmp_path, binary=str(top / "switchyard"))
    try:
        # The static binary exports no symbols, so NIO cannot find Swift Concurrency's enqueue
        # hook with dlsym; the gateway sets it itself and its jobs run on the event loops.
        (listening,) = [json.loads(line) for line in lines if '"switchyard listening"' in line]
        assert listening["executor"] == "event_loops", listening
        assert not [line for line in lines if "resource files not found" in line], lines
        with openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=30) as client:
            answer = client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "Hello"}])
            assert answer.choices[0].message.content
            streamed = "".join(
                chunk.choices[0].delta.content or ""
                for chunk in client.chat.completions.create(
                    model="mock", messages=[{"role": "user", "content": "Hello"}], stream=True,
                    extra_body={"mock": {"chunk_delay_ms": 0}},
                )
                if chunk.choices
            )
            assert streamed
        # The tokenizer vocabularies come from the resource bundle next to the binary.
        counted = httpx.post(
            base + "/utils/token_counter", headers={"authorization": f"Bearer {key}"},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}, timeout=30,
        )
        assert counted.status_code == 200, counted.text
        assert counted.json()["tokenizer_type"] == "o200k_base"
        live = httpx.get(base + "/health/live", timeout=30)
        assert live.status_code == 200 and live.json().get("version") == version
    finally:
        assert stop_process(process) == 0


def test_binary_without_its_resources_says_so(extracted, tmp_path):
    """The binary copied alone (as a benchmark or a hand-made image might): it still serves, and
    its first lines say which bundled files it runs without, so nobody measures or ships a
    gateway whose token counts are estimates and whose injection guardrail lost its learned
    stage without knowing."""
    top, _ = extracted
    alone = tmp_path / "bin"
    alone.mkdir()
    shutil.copy(top / "switchyard", alone / "switchyard")
    config = tmp_path / "switchyard.yaml"
    config.write_text(
        "server: {port: 0, master_key: k}\n"
        "providers:\n  - {name: mock, type: mock}\n"
        "models:\n  - {name: gpt-4o, provider: mock}\n"
    )
    process, base, lines = start_process(
        ["serve", "--config", str(config)], env=bare_environment(), cwd=tmp_path, binary=str(alone / "switchyard")
    )
    try:
        (warning,) = [json.loads(line) for line in lines if "resource files not found" in line]
        assert warning["level"] == "warning"
        assert {"tokenizers/o200k_base.tiktoken", "guardrails/injection-linear.bin"} <= set(warning["missing"]), warning
        counted = httpx.post(
            base + "/utils/token_counter", headers={"authorization": "Bearer k"},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}, timeout=30,
        )
        assert counted.status_code == 200, counted.text
        assert counted.json()["tokenizer_type"] == "estimate", counted.json()
    finally:
        assert stop_process(process) == 0
