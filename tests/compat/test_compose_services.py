"""deploy/compose.yaml's services, started the way compose would start them, without a container
engine: PostgreSQL and Redis from Debian's packages (waited for with the compose health checks'
own commands, pg_isready and redis-cli ping), an OTLP/HTTP collector stand-in, and the gateway
with the compose service's command, environment (interpolated as compose does) and the
deploy/switchyard.yaml it mounts. Compose's service names resolve to these local processes; the
gateway gets `--port 0` on top of the compose command so that a busy 8080 cannot fail the test.
Traffic then goes through every backend: keys and usage in PostgreSQL, limits and the response
cache in Redis, traces to the collector.
"""
import glob
import json
import os
import pathlib
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest
import yaml

from conftest import start_process, stop_process

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def postgres_bin():
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    return next((path for path in candidates if os.path.exists(path + "/initdb")), None)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def eventually(check, timeout=60, what="condition"):
    """Polls `check` until it returns a truthy value; the timeout only bounds a failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def interpolate(value, env):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} interpolation."""
    def substitute(match):
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if operator == ":-":
            return current if current else argument
        if operator == ":?":
            assert current, f"compose would stop: {argument}"
        return current or ""

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}", substitute, value)


class Collector:
    """Stands in for the OpenTelemetry collector: counts the spans POSTed to /v1/traces."""

    def __init__(self):
        self.spans = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/v1/traces":
                    document = json.loads(body)
                    for resource in document.get("resourceSpans", []):
                        for scope in resource.get("scopeSpans", []):
                            collector.spans += scope.get("spans", [])
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def services():
    binaries = postgres_bin()
    if binaries is None or shutil.which("redis-server") is None:
        pytest.skip("PostgreSQL (initdb) and redis-server are needed (scripts/test installs them)")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="switchyard-compose-"))
    workdir.chmod(0o755)  # the cluster's directory inside runs as nobody when the suite runs as root
    processes = []
    collector = Collector()
    try:
        # postgres: the image's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB.
        pg_env = {k: interpolate(str(v), {}) for k, v in compose["services"]["postgres"]["environment"].items()}
        owner = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        as_owner = ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--clear-groups", "--"] if owner else []
        pg_dir = workdir / "postgres"
        pg_dir.mkdir()
        (pg_dir / "password").write_text(pg_env["POSTGRES_PASSWORD"])
        if owner:
            for path in (pg_dir, pg_dir / "password"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        initdb = subprocess.run(
            as_owner + [f"{binaries}/initdb", "-D", str(pg_dir / "data"), "-U", pg_env["POSTGRES_USER"], f"--pwfile={pg_dir / 'password'}",
                        "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, timeout=120,
        )
        assert initdb.returncode == 0, initdb.stdout + initdb.stderr
        pg_port = free_port()
        processes.append(subprocess.Popen(
            as_owner + [f"{binaries}/postgres", "-D", str(pg_dir / "data"), "-p", str(pg_port), "-k", str(pg_dir),
                        "-c", "listen_addresses=127.0.0.1", "-F"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        # The compose health check: pg_isready.
        eventually(lambda: subprocess.run([f"{binaries}/pg_isready", "-h", "127.0.0.1", "-p", str(pg_port)], capture_output=True).returncode == 0,
                   what="pg_isready")
        psql = [f"{binaries}/psql", "-h", "127.0.0.1", "-p", str(pg_port), "-U", pg_env["POSTGRES_USER"], "-v", "ON_ERROR_STOP=1", "-tA"]
        pg_client_env = dict(os.environ, PGPASSWORD=pg_env["POSTGRES_PASSWORD"])
        subprocess.run(psql + ["-d", "postgres", "-c", f"CREATE DATABASE {pg_env['POSTGRES_DB']}"], check=True, env=pg_client_env,
                       capture_output=True)

        # redis: the compose command, on a free port; the health check is redis-cli ping.
        redis_port = free_port()
        redis_command = compose["services"]["redis"]["command"]
        processes.append(subprocess.Popen(
            redis_command + ["--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        redis_cli = ["redis-cli", "-p", str(redis_port)]
        eventually(lambda: subprocess.run(redis_cli + ["ping"], capture_output=True, text=True).stdout.strip() == "PONG", what="redis-cli ping")

        # switchyard: the compose service's command, environment and mounted configuration.
        service = compose["services"]["switchyard"]
        master_key = "sk-compose-" + secrets.token_hex(8)
        outer = {"SWITCHYARD_MASTER_KEY": master_key}
        hosts = {"postgres:5432": f"127.0.0.1:{pg_port}", "redis:6379": f"127.0.0.1:{redis_port}",
                 "otel-collector:4318": f"127.0.0.1:{collector.port}"}

        def resolve(text):
            for name, address in hosts.items():
                text = text.replace(name, address)
            return text

        env = dict(os.environ)
        for name, value in service["environment"].items():
            env[name] = resolve(interpolate(str(value), outer))
        data = workdir / "data"            # the switchyard-data volume
        data.mkdir()
        mounts = {}
        for volume in service["volumes"]:
            source, target, *_ = volume.split(":")
            if source.startswith("./"):
                mounts[target] = DEPLOY / source[2:]
        config_target = "/var/lib/switchyard/switchyard.yaml"
        (data / "switchyard.yaml").write_text(resolve(mounts[config_target].read_text()))
        command = [part.replace("/var/lib/switchyard", str(data)) for part in service["command"]]
        gateway, address, lines = start_process([*command, "--port", "0"], env=env, cwd=data, timeout=60)
        processes.append(gateway)
        yield {
            "address": address, "key": master_key, "psql": psql + ["-d", pg_env["POSTGRES_DB"]], "pg_env": pg_client_env,
            "redis_cli": redis_cli, "collector": collector, "log": lines,
        }
    finally:
        for process in reversed(processes):
            stop_process(process)
        collector.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_compose_stack_serves_through_postgres_redis_and_the_collector(services):
    address, master = services["address"], services["key"]
    # The health route the image's HEALTHCHECK and the liveness probes use.
    assert httpx.get(address + "/health/live").status_code == 200
    ready = httpx.get(address + "/health/ready")
    assert ready.status_code == 200, ready.text

    # A virtual key, stored in PostgreSQL.
    created = httpx.post(address + "/admin/keys", headers={"authorization": f"Bearer {master}"}, json={"name": "compose-test"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    stored = subprocess.run(services["psql"] + ["-c", "SELECT count(*) FROM virtual_keys WHERE name = 'compose-test'"],
                            capture_output=True, text=True, env=services["pg_env"], check=True)
    assert stored.stdout.strip() == "1"

    with openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0, timeout=30) as client:
        question = [{"role": "user", "content": "Hello from compose " + secrets.token_hex(4)}]
        first = client.chat.completions.with_raw_response.create(model="mock", messages=question)
        assert first.http_response.status_code == 200
        assert first.headers["x-switchyard-cache"] == "miss"
        assert first.headers.get("x-ratelimit-limit-requests") == "600"
        # The response cache is in Redis: the same question is a hit.
        second = client.chat.completions.with_raw_response.create(model="mock", messages=question)
        assert second.headers["x-switchyard-cache"] == "hit"
        assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
        streamed = "".join(
            chunk.choices[0].delta.content or ""
            for chunk in client.chat.completions.create(
                model="mock", messages=[{"role": "user", "content": "stream please"}], stream=True,
                extra_body={"mock": {"chunk_delay_ms": 0}},
            )
            if chunk.choices
        )
        assert streamed

    # Rate-limit counters and cached answers live in Redis under the key prefix.
    keys = subprocess.run(services["redis_cli"] + ["--scan", "--pattern", "switchyard*"], capture_output=True, text=True).stdout.split()
    assert keys, "nothing written to Redis"
    # Usage reaches the PostgreSQL ledger; spans reach the collector.
    count = lambda: subprocess.run(services["psql"] + ["-c", "SELECT count(*) FROM usage_records"], capture_output=True, text=True,
                                   env=services["pg_env"]).stdout.strip()
    eventually(lambda: count().isdigit() and int(count()) >= 3, what="usage rows in PostgreSQL")
    eventually(lambda: len(services["collector"].spans) > 0, what="spans at the collector")
    names = {span["name"] for span in services["collector"].spans}
    assert any("chat" in name for name in names), names
