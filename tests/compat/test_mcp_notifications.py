"""`list_changed` through the gateway's /mcp: the official MCP Python SDK (`mcp`) as the client,
holding the Streamable HTTP transport's GET stream open, and FastMCP servers (one over stdio, one
over Streamable HTTP) whose `grow` tool adds a tool and says the tool list changed. The gateway
passes each server's notification on to the client's stream, and the new tool is listed and
callable under the server's prefix.
"""
import os
import pathlib
import secrets
import sys
import tempfile
import time

import anyio
import httpx
import pytest
from mcp import types
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from conftest import start_process, stop_process
from test_mcp import start_http_server

SERVER = r'''
import sys

import mcp.types as mcp_types
from fastmcp import Context, FastMCP

mcp = FastMCP("changing")


@mcp.tool
def echo(text: str) -> str:
    """Returns the text."""
    return text


@mcp.tool
async def grow(ctx: Context) -> str:
    """Adds the tool `grown` and tells the client that the tool list changed."""
    def grown() -> str:
        """A tool that did not exist when the server started."""
        return "grown"

    mcp.add_tool(grown)
    await ctx.send_notification(mcp_types.ToolListChangedNotification())
    return "grew"


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        mcp.run("stdio", show_banner=False)
    else:
        mcp.run("http", host="127.0.0.1", port=int(sys.argv[2]), show_banner=False, log_level="warning")
'''


@pytest.fixture
def gateway():
    directory = pathlib.Path(tempfile.mkdtemp(prefix="switchyard-mcp-notify-"))
    (directory / "server.py").write_text(SERVER)
    remote, remote_url = start_http_server(directory, "remote")
    key = "sy-" + secrets.token_hex(16)
    (directory / "switchyard.yaml").write_text(f"""
server: {{host: 127.0.0.1, port: 0, master_key: env:MCP_NOTIFY_KEY, reload_check_interval: off}}
providers: [{{name: mock, type: mock}}]
models: [{{name: mock-gpt, provider: mock}}]
mcp:
  servers:
    - {{name: local, command: "{sys.executable}", args: ["{directory / 'server.py'}", stdio], timeout: 20s}}
    - {{name: remote, url: "{remote_url}", prefix: web, timeout: 20s}}
""")
    process, address, log = start_process(["serve", "--config", str(directory / "switchyard.yaml")],
                                           env=dict(os.environ, MCP_NOTIFY_KEY=key))
    try:
        yield address, key
    finally:
        stop_process(process)
        remote.kill()
        remote.wait()


def wait_for_metric(address: str, line: str) -> None:
    """Polls /metrics until it has `line` (the gateway's background work is asynchronous)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if line in httpx.get(address + "/metrics").text.splitlines():
            return
        time.sleep(0.05)
    pytest.fail(f"/metrics never showed {line!r}")


@pytest.mark.parametrize("server,prefix", [("local", "local"), ("remote", "web")])
def test_sdk_client_is_told_through_the_gateway_when_a_fastmcp_server_changes_its_tools(gateway, server, prefix):
    address, key = gateway
    # Both servers' coming up has been announced (to no one yet): no such notification can reach
    # the client's stream later and be taken for the one this test waits for.
    for name in ("local", "remote"):
        wait_for_metric(address, f'switchyard_mcp_notifications_total{{server="{name}",notification="notifications/prompts/list_changed"}} 0')
    changed = []

    async def on_message(message) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.append(message)

    async def main():
        http = create_mcp_http_client(headers={"authorization": f"Bearer {key}"})
        async with Client(streamable_http_client(address + "/mcp", http_client=http), message_handler=on_message) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert f"{prefix}_grow" in names and f"{prefix}_grown" not in names
            # The SDK opens the GET stream on its own once the session exists.
            await anyio.to_thread.run_sync(wait_for_metric, address, "switchyard_mcp_client_streams 1.0")
            assert (await client.call_tool(f"{prefix}_grow", {})).content[0].text == "grew"
            with anyio.fail_after(30):
                while not changed:
                    await anyio.sleep(0.05)
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert f"{prefix}_grown" in names
            assert (await client.call_tool(f"{prefix}_grown", {})).content[0].text == "grown"

    anyio.run(main)
    metrics = httpx.get(address + "/metrics").text
    assert (f'switchyard_mcp_notifications_total{{server="{server}",notification="notifications/tools/list_changed"}} 1'
            in metrics.splitlines()), metrics
