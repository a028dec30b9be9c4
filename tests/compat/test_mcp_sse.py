"""The legacy MCP HTTP+SSE transport (protocol 2024-11-05) through the gateway, on both sides: the
official MCP Python SDK's `sse_client` on the gateway's `GET /mcp/sse`, and a FastMCP server run with
the `sse` transport as the gateway's upstream (`transport: sse`).

Shows a session over the event stream, the upstream's credential kept gateway-side, a session bound
to the key that opened it, and an upstream whose stream drops: its tools go away while it is down and
come back once the gateway has connected again.
"""
import os
import pathlib
import secrets
import socket
import subprocess
import sys
import tempfile
import time

import anyio
import httpx
import pytest
from mcp.client.client import Client
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPError

from conftest import start_process, stop_process
from test_mcp import SERVER, free_port

UPSTREAM_TOKEN = "sse-upstream-" + secrets.token_hex(8)

TOOLS = sorted(f"old_{name}" for name in ("add", "echo", "pid", "crash", "token_ok", "fetch_page"))


def start_sse_server(directory: pathlib.Path, port: int):
    """A FastMCP server over the legacy SSE transport on `port`, once it accepts connections."""
    env = dict(os.environ, SERVER_NAME="legacy", EXPECTED_TOKEN=UPSTREAM_TOKEN)
    process = subprocess.Popen([sys.executable, str(directory / "server.py"), "sse", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the FastMCP server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("the FastMCP server did not start")


class Deployment:
    def __init__(self, url, key, log, directory, port):
        self.url, self.key, self.log, self.directory, self.port = url, key, log, directory, port
        self.upstream = None


@pytest.fixture
def deployment():
    directory = pathlib.Path(tempfile.mkdtemp(prefix="switchyard-mcp-sse-"))
    (directory / "server.py").write_text(SERVER)
    port = free_port()
    key = "sy-" + secrets.token_hex(16)
    (directory / "switchyard.yaml").write_text(f"""
server: {{host: 127.0.0.1, port: 0, master_key: env:MCP_SSE_TEST_KEY, reload_check_interval: off}}
providers: [{{name: mock, type: mock}}]
models: [{{name: mock-gpt, provider: mock}}]
mcp:
  sse_keepalive: 1s
  servers:
    - name: legacy
      url: http://127.0.0.1:{port}/sse
      transport: sse
      prefix: old
      headers: {{x-upstream-token: env:UPSTREAM_TOKEN}}
      restart_delay: 100ms
      max_restart_delay: 500ms
      timeout: 20s
""")
    deployment = Deployment(None, key, None, directory, port)
    deployment.upstream = start_sse_server(directory, port)
    env = dict(os.environ, MCP_SSE_TEST_KEY=key, UPSTREAM_TOKEN=UPSTREAM_TOKEN)
    process, address, log = start_process(["serve", "--config", str(directory / "switchyard.yaml"), "--log-format", "json"], env=env)
    deployment.url, deployment.log = address, log
    try:
        yield deployment
    finally:
        stop_process(process)
        deployment.upstream.kill()
        deployment.upstream.wait()


def client(deployment, key=None, on_session_created=None):
    """The SDK's client over the legacy transport on the gateway's /mcp/sse."""
    return Client(sse_client(deployment.url + "/mcp/sse", headers={"authorization": f"Bearer {key or deployment.key}"},
                             on_session_created=on_session_created))


def text(result) -> str:
    return result.content[0].text


async def until(condition, what, timeout=30):
    """Polls `condition` (an async function) until it holds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, what
        await anyio.sleep(0.05)


async def names(session):
    return sorted(tool.name for tool in (await session.list_tools()).tools)


def test_sdk_sse_client_calls_an_sse_upstream_through_the_gateway(deployment):
    async def main():
        async with client(deployment) as session:
            await until(lambda: _has_tools(session), "the gateway connected to the SSE upstream")
            assert await names(session) == TOOLS
            assert text(await session.call_tool("old_add", {"a": 2, "b": 40})) == "42"
            assert text(await session.call_tool("old_echo", {"text": "both ways legacy"})) == "both ways legacy"
            # The upstream got the credential the gateway holds for it; the client never had it.
            assert text(await session.call_tool("old_token_ok", {})) == "true"
            with pytest.raises(MCPError):
                await session.call_tool("nobody_has_this", {})
    anyio.run(main)
    assert not any(UPSTREAM_TOKEN in line for line in deployment.log), "the upstream credential is never logged"
    metrics = httpx.get(deployment.url + "/metrics").text
    assert 'switchyard_mcp_calls_total{method="tools/call",server="legacy",tool="add",outcome="success"} 1' in metrics
    audit = httpx.get(deployment.url + "/admin/audit?kind=tool", headers={"authorization": f"Bearer {deployment.key}"}).json()["data"]
    assert any(event["target"] == "legacy/echo" and event["outcome"] == "success" for event in audit)


async def _has_tools(session):
    return len((await session.list_tools()).tools) == len(TOOLS)


def test_an_sse_session_belongs_to_the_key_that_opened_it(deployment):
    created = httpx.post(deployment.url + "/admin/keys", json={"name": "someone-else"},
                         headers={"authorization": f"Bearer {deployment.key}"})
    assert created.status_code == 201, created.text
    other = created.json()["key"]
    sessions = []

    async def main():
        async with client(deployment, on_session_created=sessions.append) as session:
            await session.list_tools()
            endpoint = f"{deployment.url}/mcp/messages?session_id={sessions[0]}"
            ping = {"jsonrpc": "2.0", "id": 99, "method": "ping"}
            async with httpx.AsyncClient() as http:
                stolen = await http.post(endpoint, json=ping, headers={"authorization": f"Bearer {other}"})
                assert stolen.status_code == 404, stolen.text
                anonymous = await http.post(endpoint, json=ping)
                assert anonymous.status_code == 401
                assert "resource_metadata=" in anonymous.headers["www-authenticate"]
            # The session itself goes on.
            assert text(await session.call_tool("old_echo", {"text": "still mine"})) == "still mine"
    anyio.run(main)


def test_an_sse_upstream_whose_stream_drops_is_connected_again(deployment):
    async def main():
        async with client(deployment) as session:
            await until(lambda: _has_tools(session), "the gateway connected to the SSE upstream")
            deployment.upstream.kill()
            deployment.upstream.wait()

            async def gone():
                return await names(session) == []
            await until(gone, "the upstream's tools leave the list while it is down")
            with pytest.raises(MCPError) as down:
                await session.call_tool("old_add", {"a": 1, "b": 1})
            assert down.value.error.data["type"] == "server_unavailable"

            deployment.upstream = start_sse_server(deployment.directory, deployment.port)
            await until(lambda: _has_tools(session), "the gateway connected again")
            assert text(await session.call_tool("old_add", {"a": 20, "b": 22})) == "42"
    anyio.run(main)
    metrics = httpx.get(deployment.url + "/metrics").text
    assert 'switchyard_mcp_server_restarts_total{server="legacy"}' in metrics
