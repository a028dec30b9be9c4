"""The deployment files, checked as far as a machine without a container engine can check them.

No base image can be pulled here, so nothing is built or started through Docker or Kubernetes:
the Dockerfile goes through hadolint, the Kubernetes manifests through kubernetes-validate (the
API schemas of the Kubernetes version it ships), deploy/compose.yaml through the compose-spec JSON
schema (from the docker-compose 1.29.2 wheel, installed as data by scripts/test), and the
configuration they share through `switchyard check-config`. test_compose_services.py runs the
compose file's services the way compose would.
"""
import importlib.metadata
import json
import os
import pathlib
import re
import subprocess
import sys

import jsonschema
import yaml

from conftest import _binary

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
BIN = pathlib.Path(sys.executable).parent

# What the deploy configuration reads from the environment (values for check-config only).
DEPLOY_ENV = {
    "SWITCHYARD_MASTER_KEY": "sk-check",
    "SWITCHYARD_KEY_SECRET": "k" * 32,
    "DATABASE_URL": "postgres://switchyard:pw@postgres:5432/switchyard",
    "REDIS_URL": "redis://redis:6379/0",
}


def load_all(path):
    with open(path) as handle:
        return [document for document in yaml.safe_load_all(handle) if document]


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", str(duration))
    assert match, f"not a duration: {duration}"
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def test_dockerfile_passes_hadolint():
    result = subprocess.run([str(BIN / "hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_with_the_package_script_and_runs_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) == 2 and stages[0].startswith("swift:6.3"), stages
    assert "scripts/package --release" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and not users[-1].startswith("0") and users[-1] != "root", users
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD .*/health/live", text, re.M)
    assert 'VOLUME ["/var/lib/switchyard"]' in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".build/" in ignored and ".git/" in ignored


def kubernetes_files():
    return sorted(path for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")


def test_kubernetes_manifests_validate_strictly():
    files = kubernetes_files()
    assert {path.name for path in files} >= {"deployment.yaml", "service.yaml", "configmap.yaml", "pdb.yaml", "hpa.yaml"}
    result = subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == len(files), result.stdout


def test_kustomization_applies_every_manifest_but_the_secret_example():
    kustomization = load_all(KUBERNETES / "kustomization.yaml")[0]
    expected = {path.name for path in kubernetes_files()} - {"secret.example.yaml"}
    assert set(kustomization["resources"]) == expected


def deployment():
    return load_all(KUBERNETES / "deployment.yaml")[0]


def configmap_config():
    configmap = load_all(KUBERNETES / "configmap.yaml")[0]
    return configmap["data"]["switchyard.yaml"]


def test_configmap_holds_the_deploy_configuration():
    assert configmap_config() == (DEPLOY / "switchyard.yaml").read_text()


def test_deploy_configuration_passes_check_config(tmp_path):
    config = tmp_path / "switchyard.yaml"
    config.write_text(configmap_config())
    result = subprocess.run(
        [_binary(), "check-config", str(config)], capture_output=True, text=True, env=dict(os.environ, **DEPLOY_ENV)
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_pods_probe_the_health_routes_and_outlast_the_shutdown_grace_period():
    pod = deployment()["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "switchyard")
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    grace = seconds(yaml.safe_load(configmap_config())["server"]["shutdown_grace_period"])
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # preStop, then the gateway's grace period, then its 5 s to cancel what is left.
    assert pod["terminationGracePeriodSeconds"] >= float(pre_stop[1]) + grace + 5
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_every_environment_secret_comes_from_the_secret():
    config = configmap_config()
    container = next(c for c in deployment()["spec"]["template"]["spec"]["containers"] if c["name"] == "switchyard")
    provided = {entry["name"]: entry for entry in container["env"]}
    for variable in re.findall(r"env:([A-Z0-9_]+)", "\n".join(l for l in config.splitlines() if not l.lstrip().startswith("#"))):
        assert variable in provided, f"{variable} is read by the configuration but not set"
        assert provided[variable]["valueFrom"]["secretKeyRef"]["name"] == "switchyard-secrets"
    secret = load_all(KUBERNETES / "secret.example.yaml")[0]
    referenced = {entry["valueFrom"]["secretKeyRef"]["key"] for entry in provided.values()}
    assert referenced <= set(secret["stringData"])


def test_pdb_and_hpa_target_the_deployment():
    labels = deployment()["spec"]["selector"]["matchLabels"]
    pdb = load_all(KUBERNETES / "pdb.yaml")[0]
    assert pdb["spec"]["selector"]["matchLabels"] == labels
    hpa = load_all(KUBERNETES / "hpa.yaml")[0]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "switchyard"}
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"]


def compose_schema():
    files = importlib.metadata.files("docker-compose") or []
    schema = next((f for f in files if str(f).endswith("compose/config/compose_spec.json")), None)
    assert schema is not None, "docker-compose's compose_spec.json is missing (pip install --no-deps docker-compose==1.29.2)"
    return json.loads(pathlib.Path(schema.locate()).read_text())


def test_compose_file_matches_the_compose_spec():
    schema = compose_schema()
    document = load_all(DEPLOY / "compose.yaml")[0]
    errors = [f"{list(error.path)}: {error.message}" for error in jsonschema.Draft201909Validator(schema).iter_errors(document)]
    assert errors == []
    # The schema is strict enough to notice a mistake.
    document["services"]["redis"]["healthcheck"]["interval"] = 5
    assert list(jsonschema.Draft201909Validator(schema).iter_errors(document))


def test_compose_wires_switchyard_to_postgres_redis_and_the_collector():
    document = load_all(DEPLOY / "compose.yaml")[0]
    services = document["services"]
    assert set(services) >= {"switchyard", "postgres", "redis", "otel-collector"}
    gateway = services["switchyard"]
    assert set(gateway["depends_on"]) == {"postgres", "redis", "otel-collector"}
    assert "./switchyard.yaml:/var/lib/switchyard/switchyard.yaml:ro" in gateway["volumes"]
    assert "@postgres:5432/" in gateway["environment"]["DATABASE_URL"]
    assert gateway["environment"]["REDIS_URL"].startswith("redis://redis:6379")
    config = yaml.safe_load((DEPLOY / "switchyard.yaml").read_text())
    assert config["tracing"]["endpoint"].startswith("http://otel-collector:4318/")
    assert config["cache"]["backend"] == "redis" and config["limits"]["backend"] == "redis"
    collector = yaml.safe_load((DEPLOY / "otel" / "collector.yaml").read_text())
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert seconds(gateway["stop_grace_period"]) >= seconds(config["server"]["shutdown_grace_period"])
