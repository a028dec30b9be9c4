"""MCP tools on any model: the official OpenAI SDK's `responses.create` with an `mcp` tool,
answered by a non-OpenAI model (the mock provider speaking Anthropic's Messages API behind the
gateway), the gateway calling a FastMCP server over Streamable HTTP with its own credential."""
import os
import pathlib
import secrets
import tempfile
import time

import httpx
import openai
import pytest

from conftest import start_process, stop_process
from test_mcp import SERVER, UPSTREAM_TOKEN, start_http_server


@pytest.fixture
def deployment():
    directory = pathlib.Path(tempfile.mkdtemp(prefix="switchyard-mcp-tools-"))
    (directory / "server.py").write_text(SERVER)
    remote, remote_url = start_http_server(directory, "calc")
    upstream, upstream_address, _ = start_process(["mock-provider", "--port", "0"], "mock provider listening")
    key = "sy-" + secrets.token_hex(16)
    (directory / "switchyard.yaml").write_text(f"""
server:
  host: 127.0.0.1
  port: 0
  master_key: env:MCP_TOOLS_KEY
  reload_check_interval: off
providers:
  - name: claude
    type: anthropic
    base_url: {upstream_address.removesuffix('/v1')}
    api_key: provider-key
models: [{{name: claude, provider: claude, model: claude-mock}}]
mcp:
  max_tool_iterations: 4
  servers:
    - name: calc
      url: {remote_url}
      headers: {{x-upstream-token: env:UPSTREAM_TOKEN}}
      timeout: 20s
""")
    env = dict(os.environ, MCP_TOOLS_KEY=key, UPSTREAM_TOKEN=UPSTREAM_TOKEN)
    process, address, log = start_process(["serve", "--config", str(directory / "switchyard.yaml")], env=env)
    try:
        yield address, key, remote_url, log
    finally:
        stop_process(process)
        stop_process(upstream)
        remote.kill()
        remote.wait()


def test_responses_create_with_an_mcp_tool_is_answered_by_an_anthropic_dialect_model(deployment):
    address, key, remote_url, log = deployment
    client = openai.OpenAI(base_url=address + "/v1", api_key=key)
    response = client.responses.create(
        model="claude",
        input="What is 40 + 2?",
        tools=[{"type": "mcp", "server_label": "calc", "server_url": remote_url, "require_approval": "never",
                "allowed_tools": ["add", "token_ok"], "headers": {"x-upstream-token": "not-forwarded"}}],
        extra_body={"mock": {"tool_name": "calc_add", "tool_arguments": '{"a": 40, "b": 2}', "answer_with_tool_result": True}},
    )
    assert response.status == "completed"
    listed = [item for item in response.output if item.type == "mcp_list_tools"]
    assert [sorted(tool.name for tool in item.tools) for item in listed] == [["add", "token_ok"]]
    calls = [item for item in response.output if item.type == "mcp_call"]
    assert len(calls) == 1 and calls[0].name == "add" and calls[0].server_label == "calc" and calls[0].output == "42"
    assert response.output_text == "Tool result: 42"
    assert response.usage.input_tokens > 0

    # The server is called with the gateway's credential, never the client's headers.
    token = client.responses.create(
        model="claude", input="Is the token right?",
        tools=[{"type": "mcp", "server_label": "calc", "require_approval": "never", "headers": {"x-upstream-token": "wrong"}}],
        extra_body={"mock": {"tool_name": "calc_token_ok", "answer_with_tool_result": True}},
    )
    assert token.output_text == "Tool result: true"

    # Approval: the call waits until the client approves it in a second request.
    first = client.responses.create(
        model="claude", input="What is 1 + 2?", tools=[{"type": "mcp", "server_label": "calc"}],
        extra_body={"mock": {"tool_name": "calc_add", "tool_arguments": '{"a": 1, "b": 2}', "answer_with_tool_result": True}},
    )
    request = next(item for item in first.output if item.type == "mcp_approval_request")
    assert request.name == "add"
    second = client.responses.create(
        model="claude",
        input=[{"role": "user", "content": "What is 1 + 2?"}] + [item.model_dump(exclude_none=True) for item in first.output]
        + [{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}],
        tools=[{"type": "mcp", "server_label": "calc"}],
        extra_body={"mock": {"tool_name": "calc_add", "tool_arguments": '{"a": 1, "b": 2}', "answer_with_tool_result": True}},
    )
    assert second.output_text == "Tool result: 3"
    assert [item.approval_request_id for item in second.output if item.type == "mcp_call"] == [request.id]

    # A server_url of the client's choosing is refused: the gateway reaches only its configured servers.
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="claude", input="hi",
                                tools=[{"type": "mcp", "server_label": "calc", "server_url": "http://169.254.169.254/"}])
    assert "server_url" in str(refused.value)

    # Streamed: the MCP events and the answer, through the SDK's event types.
    with client.responses.stream(
        model="claude", input="What is 2 + 2?",
        tools=[{"type": "mcp", "server_label": "calc", "require_approval": "never"}],
        extra_body={"mock": {"tool_name": "calc_add", "tool_arguments": '{"a": 2, "b": 2}', "answer_with_tool_result": True}},
    ) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.mcp_call.completed" in types and "response.mcp_list_tools.completed" in types
    assert final.output_text == "Tool result: 4"

    # Every call is in the audit trail (written in the background: polled, not waited for blindly).
    deadline = time.monotonic() + 30
    while True:
        audit = httpx.get(address + "/admin/audit?kind=tool", headers={"authorization": f"Bearer {key}"}).json()["data"]
        added = sum(1 for event in audit if event["target"] == "calc/add" and event["outcome"] == "success")
        if added == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert added == 3
    assert not any(UPSTREAM_TOKEN in line for line in log)
