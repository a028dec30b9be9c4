"""`switchyard import litellm`: real LiteLLM configurations converted, checked and served.

The configurations in litellm_configs/ are LiteLLM's own (every proxy config shipped in the
`litellm` package and complete examples from its documentation; MIT, see the README there). Each
one must convert (exit 0, every unmapped setting on stderr with a reason), the output must pass
`switchyard check-config`, and the gateway must serve every converted model group, alias and
pattern when its providers point at a `switchyard mock-provider` process (each provider keeps
its type and dialect; only Vertex AI, which needs Google's token endpoint, is replaced by the
built-in mock).
"""
import os
import pathlib
import re
import subprocess

import openai
import pytest
import yaml

from conftest import _binary, start_process, stop_process

CONFIGS = pathlib.Path(__file__).parent / "litellm_configs"
CONFIG_FILES = sorted(CONFIGS.glob("*.yaml"))
FINDING = re.compile(r"^(?P<file>.+?): (?P<kind>not mapped|note): (?P<path>[^:]+): (?P<reason>.+)$")


def convert(path, tmp_path, env=None):
    out = tmp_path / "switchyard.yaml"
    result = subprocess.run(
        [_binary(), "import", "litellm", str(path), "-o", str(out)], capture_output=True, text=True, env=env or os.environ.copy()
    )
    return result, out


def findings(stderr):
    lines = [line for line in stderr.splitlines() if line]
    summary = lines.pop()
    assert re.search(r"converted \d+ model\(s\) on \d+ provider\(s\); \d+ setting\(s\) not mapped$", summary), summary
    parsed = []
    for line in lines:
        match = FINDING.match(line)
        assert match, f"unexpected stderr line: {line}"
        parsed.append((match["kind"], match["path"], match["reason"]))
    return parsed


def secret_environment(config_text):
    """A value for every env:NAME the converted configuration reads (check-config needs them)."""
    env = dict(os.environ)
    for name in set(re.findall(r"env:([A-Za-z_][A-Za-z0-9_]*)", config_text)):
        env[name] = "x" * 40
        if name == "REDIS_URL":
            env[name] = "redis://127.0.0.1:6379"
        elif name == "DATABASE_URL":
            env[name] = "postgres://switchyard:pw@127.0.0.1:5432/switchyard"
    # The importer's notes say the gateway takes a Bedrock region without aws_region_name from here.
    env.setdefault("AWS_REGION", "us-east-1")
    # Bedrock deployments without keys sign with the AWS default chain: give it its first source.
    env.setdefault("AWS_ACCESS_KEY_ID", "AKIDIMPORTTEST")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "x" * 40)
    return env


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_shipped_config_converts_and_passes_check_config(path, tmp_path):
    result, out = convert(path, tmp_path)
    assert result.returncode == 0, result.stderr
    for kind, setting, reason in findings(result.stderr):
        assert reason.strip(), setting
    text = out.read_text()
    checked = subprocess.run([_binary(), "check-config", str(out)], capture_output=True, text=True, env=secret_environment(text))
    assert checked.returncode == 0, f"{text}\n{checked.stderr}"
    assert "OK" in checked.stdout


RICH = """
model_list:
  - model_name: chat
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: https://eu.openai.azure.com/
      api_key: os.environ/AZURE_EU_KEY
      api_version: "2024-10-21"
      rpm: 600
      tpm: 200_000
      weight: 3
      order: 1
      timeout: 30
      stream_timeout: 5
  - model_name: chat
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
      order: 2
  - model_name: chat
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: os.environ/ANTHROPIC_API_KEY
  - model_name: claude
    litellm_params:
      model: bedrock/converse/us.anthropic.claude-sonnet-4-5-20250929-v1:0
      aws_region_name: us-west-2
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
  - model_name: gemini
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_key: os.environ/GEMINI_API_KEY
      temperature: 0.2
  - model_name: local
    litellm_params:
      model: ollama/llama3
      api_base: http://127.0.0.1:11434
  - model_name: vllm
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
      api_base: http://10.0.0.5:8000/v1
  - model_name: command
    litellm_params:
      model: cohere/command-a-03-2025
      api_key: os.environ/COHERE_API_KEY
  - model_name: fast
    litellm_params:
      model: groq/llama-3.1-8b-instant
      api_key: os.environ/GROQ_API_KEY
  - model_name: sage
    litellm_params:
      model: sagemaker/my-endpoint
router_settings:
  routing_strategy: latency-based-routing
  num_retries: 3
  timeout: 60
  allowed_fails: 4
  cooldown_time: 45
  fallbacks: [{"chat": ["claude"]}]
  context_window_fallbacks: [{"chat": ["gemini"]}]
  model_group_alias: {"gpt-4": "chat"}
  enable_tag_filtering: true
litellm_settings:
  drop_params: true
  cache: true
  cache_params:
    type: redis
    host: redis.internal
    port: 6380
    ttl: 600
  success_callback: ["otel", "langfuse"]
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
  alerting: ["slack"]
mcp_servers:
  fetch: {transport: stdio, command: uvx}
"""


def test_mapping_of_groups_providers_and_settings(tmp_path):
    source = tmp_path / "litellm.yaml"
    source.write_text(RICH)
    result, out = convert(source, tmp_path)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(out.read_text())
    providers = {p["name"]: p for p in config["providers"]}
    assert providers["azure"] == {
        "name": "azure", "type": "azure", "base_url": "https://eu.openai.azure.com", "api_key": "env:AZURE_EU_KEY",
        "options": {"api_version": "2024-10-21"},
    }
    assert providers["openai"]["type"] == "openai" and providers["openai"]["api_key"] == "env:OPENAI_API_KEY"
    assert providers["bedrock"]["options"] == {"region": "us-west-2"}
    # No keys in LiteLLM's entry: the gateway uses the AWS default credential chain, as LiteLLM did.
    assert "aws_access_key_id" not in providers["bedrock"] and "api_key" not in providers["bedrock"]
    assert providers["ollama"]["base_url"] == "http://127.0.0.1:11434/v1"
    assert providers["hosted-vllm"] == {"name": "hosted-vllm", "type": "vllm", "base_url": "http://10.0.0.5:8000/v1"}
    assert providers["cohere"]["type"] == "cohere" and providers["groq"]["type"] == "groq"
    models = {m["name"]: m for m in config["models"]}
    chat = models["chat"]
    assert chat["strategy"] == "latency" and chat["aliases"] == ["gpt-4"]
    assert chat["timeout"] == "30s" and chat["first_token_timeout"] == "5s"
    assert chat["deployments"] == [
        {"provider": "azure", "model": "gpt-4o-eu", "rpm": 600, "tpm": 200000, "weight": 3, "priority": 0},
        {"provider": "openai", "model": "gpt-4o", "priority": 1},
        {"provider": "anthropic", "model": "claude-sonnet-4-5", "priority": 2},
    ]
    assert sorted(chat["fallbacks"], key=str) == sorted(["claude", {"model": "gemini", "on": ["context_length"]}], key=str)
    assert models["claude"]["model"] == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert models["claude"]["price"] == {"input": 3, "output": 15}
    assert "sage" not in models
    assert config["router"] == {
        "retry": {"attempts": 3}, "timeout": "60s", "circuit_breaker": {"consecutive_failures": 4, "cooldown": "45s"},
    }
    assert config["server"] == {"master_key": "env:LITELLM_MASTER_KEY", "database": "env:DATABASE_URL", "key_secret": "env:SWITCHYARD_KEY_SECRET"}
    assert config["cache"] == {"backend": "redis", "ttl": "10m"} or config["cache"] == {"backend": "redis", "ttl": "600s"}
    assert config["redis"] == {"url": "redis://redis.internal:6380"}
    assert config["tracing"] == {"enabled": True}

    reported = {(kind, path): reason for kind, path, reason in findings(result.stderr)}
    assert "sagemaker" in reported[("not mapped", "model_list[9]")]
    assert ("not mapped", "model_list[4].litellm_params.temperature") in reported
    assert ("not mapped", "litellm_settings.drop_params") in reported
    assert ("not mapped", "router_settings.enable_tag_filtering") in reported
    assert ("not mapped", "general_settings.alerting") in reported
    assert ("not mapped", "mcp_servers") in reported
    assert "langfuse" in reported[("not mapped", "litellm_settings.success_callback")]
    assert "SWITCHYARD_KEY_SECRET" in reported[("note", "general_settings.database_url")]


def test_unreadable_input_is_an_error(tmp_path):
    missing = subprocess.run([_binary(), "import", "litellm", str(tmp_path / "nope.yaml")], capture_output=True, text=True)
    assert missing.returncode == 1 and "cannot be read" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list: [unclosed\n")
    broken = subprocess.run([_binary(), "import", "litellm", str(bad)], capture_output=True, text=True)
    assert broken.returncode == 1 and "not valid YAML" in broken.stderr
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    result = subprocess.run([_binary(), "import", "litellm", str(scalar)], capture_output=True, text=True)
    assert result.returncode == 1 and "not a LiteLLM configuration" in result.stderr


def test_output_goes_to_stdout_without_o(tmp_path):
    source = tmp_path / "litellm.yaml"
    source.write_text("model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o, api_key: os.environ/K}\n")
    result = subprocess.run([_binary(), "import", "litellm", str(source)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert config["models"] == [{"name": "m", "provider": "openai", "model": "gpt-4o"}]


# Serving converted configurations.

@pytest.fixture(scope="module")
def mock_upstream():
    process, address, _ = start_process(["mock-provider", "--port", "0"], "mock provider listening", dict(os.environ))
    yield address.removesuffix("/v1")
    stop_process(process)


OPENAI_DIALECT = {"openai", "openai-compatible", "groq", "together", "mistral", "deepseek", "openrouter", "fireworks", "vllm", "ollama", "llamacpp", "lmstudio"}


def point_at_mock(config, root):
    """Every provider keeps its type but talks to the mock process; Vertex becomes the built-in mock."""
    for provider in config["providers"]:
        kind = provider["type"]
        if kind == "vertex":
            name = provider["name"]
            provider.clear()
            provider.update({"name": name, "type": "mock"})
        elif kind in OPENAI_DIALECT:
            provider["base_url"] = root + "/v1"
        else:
            provider["base_url"] = root
    server = config.setdefault("server", {})
    server.pop("database", None)
    server.pop("key_secret", None)
    server.update({"host": "127.0.0.1", "port": 0, "reload_check_interval": "off"})
    # Redis is exercised elsewhere; here the routing is what is under test.
    config.pop("redis", None)
    if "cache" in config:
        config["cache"]["backend"] = "memory"
    config.pop("tracing", None)
    config.setdefault("router", {})["circuit_breaker"] = False


def requested_names(config):
    names = []
    for model in config["models"]:
        name = model["name"]
        names.append(name[:-1] + "probe-model" if name.endswith("*") else name)
        names += model.get("aliases", [])
    return names


def import_environment(path, root):
    """The variables the LiteLLM file reads, set as an operator would before importing: the
    importer writes the values of those that are not secrets (endpoints, projects) into the
    output. Endpoints name the mock; Vertex gets a credentials path (its provider is replaced by
    the built-in mock before serving, so the file is never read)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_"))}
    for name in set(re.findall(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)", path.read_text())):
        env[name] = root + "/v1" if ("BASE" in name or "URL" in name) else "value-of-" + name.lower()
    env["GOOGLE_APPLICATION_CREDENTIALS"] = "/nonexistent/service-account.json"
    return env


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_converted_config_routes_every_model(path, tmp_path, mock_upstream):
    result, out = convert(path, tmp_path, env=import_environment(path, mock_upstream))
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(out.read_text())
    if not config.get("models"):
        pytest.skip(f"{path.name} defines no model LiteLLM would load from the file")
    point_at_mock(config, mock_upstream)
    served = tmp_path / "served.yaml"
    served.write_text(yaml.safe_dump(config, sort_keys=False))
    env = secret_environment(served.read_text())
    master = config["server"].get("master_key")
    key = env[master[4:]] if master and master.startswith("env:") else master or "unused"
    gateway, address, lines = start_process(["serve", "--config", str(served)], env=env, cwd=tmp_path)
    try:
        with openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0, timeout=30) as client:
            for name in requested_names(config):
                response = client.chat.completions.with_raw_response.create(
                    model=name, messages=[{"role": "user", "content": "Hello"}], max_tokens=16
                )
                assert response.http_response.status_code == 200, (name, "".join(lines[-20:]))
                assert response.parse().choices[0].message.content.startswith("This is a mock response")
                assert response.headers.get("x-switchyard-deployment"), name
    finally:
        stop_process(gateway)
