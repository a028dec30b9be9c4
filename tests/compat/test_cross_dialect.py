"""Across dialects, over real sockets: the OpenAI SDK reaching Anthropic- and Gemini-dialect
providers (a `switchyard mock-provider` process speaks /v1/messages and
models/{model}:generateContent), and the Anthropic SDK reaching them through the gateway."""
import json
import os
import pathlib
import secrets
import signal
import subprocess
import tempfile
import time

import anthropic
import openai
import pytest

from conftest import start_process


def _start(args, marker, env=None):
    process, address, _ = start_process(args, marker, env=env)
    return process, address


@pytest.fixture(scope="module")
def anthropic_gateway():
    upstream, upstream_address = _start(["mock-provider", "--port", "0"], "mock provider listening")
    key = "sy-" + secrets.token_hex(8)
    workdir = tempfile.mkdtemp(prefix="switchyard-cross-")
    config = pathlib.Path(workdir) / "switchyard.yaml"
    config.write_text(f"""
server:
  port: 0
  master_key: env:SWITCHYARD_CROSS_KEY
  reload_check_interval: off
providers:
  - name: claude
    type: anthropic
    base_url: {upstream_address.removesuffix('/v1')}
    api_key: env:SWITCHYARD_CROSS_PROVIDER_KEY
  - name: google
    type: gemini
    base_url: {upstream_address.removesuffix('/v1')}
    api_key: env:SWITCHYARD_CROSS_PROVIDER_KEY
  - name: aws
    type: bedrock
    base_url: {upstream_address.removesuffix('/v1')}
    aws_access_key_id: AKIDCOMPAT
    aws_secret_access_key: env:SWITCHYARD_CROSS_PROVIDER_KEY
    options:
      region: eu-west-1
models:
  - name: bedrock-via-gateway
    provider: aws
    model: anthropic.claude-3-haiku-20240307-v1:0
  - name: claude-via-gateway
    provider: claude
    model: claude-mock
  - name: gemini-via-gateway
    provider: google
    model: gemini-2.5-flash
  - name: gemini3-via-gateway      # the mock signs its function calls as Gemini 3 does
    provider: google
    model: gemini-3-pro-preview
""")
    env = dict(os.environ, SWITCHYARD_CROSS_KEY=key, SWITCHYARD_CROSS_PROVIDER_KEY="sk-ant-test")
    gateway, address = _start(["serve", "--config", str(config)], "switchyard listening", env=env)
    yield address, key
    for process in (gateway, upstream):
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


MESSAGES = [{"role": "user", "content": "Hello there"}]
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}},
]


def test_openai_sdk_on_an_anthropic_provider(anthropic_gateway):
    address, key = anthropic_gateway
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0)
    completion = client.chat.completions.create(model="claude-via-gateway", messages=MESSAGES, max_tokens=64)
    assert completion.choices[0].message.content == "This is a mock response to: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 8

    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="claude-via-gateway", messages=MESSAGES, stream=True) if c.choices)
    assert streamed == completion.choices[0].message.content


def test_openai_sdk_tool_round_trip_on_an_anthropic_provider(anthropic_gateway):
    address, key = anthropic_gateway
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0)
    with client.chat.completions.stream(model="claude-via-gateway", messages=MESSAGES, tools=TOOLS,
                                        extra_body={"mock": {"tool_calls": 2}}) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert [call.function.name for call in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "mock"}
    assert final.choices[0].finish_reason == "tool_calls"
    follow_up = client.chat.completions.create(
        model="claude-via-gateway",
        tools=TOOLS,
        messages=MESSAGES + [final.choices[0].message.model_dump(exclude_none=True)]
        + [{"role": "tool", "tool_call_id": call.id, "content": "fine"} for call in calls],
    )
    assert follow_up.choices[0].finish_reason == "stop"


def test_anthropic_sdk_through_the_gateway_to_an_anthropic_provider(anthropic_gateway):
    address, key = anthropic_gateway
    claude = anthropic.Anthropic(base_url=address, api_key=key, max_retries=0)
    with claude.messages.stream(model="claude-via-gateway", max_tokens=64, messages=MESSAGES) as stream:
        message = stream.get_final_message()
    assert message.content[0].text == "This is a mock response to: Hello there"
    assert message.stop_reason == "end_turn"


def test_provider_rate_limit_reaches_the_openai_client(anthropic_gateway):
    address, key = anthropic_gateway
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="claude-via-gateway", messages=MESSAGES, extra_body={"mock": {"status": 429}})


@pytest.mark.parametrize("model", ["claude-via-gateway", "gemini-via-gateway", "bedrock-via-gateway"])
def test_openai_sdk_streams_and_tools_on_each_dialect(anthropic_gateway, model):
    address, key = anthropic_gateway
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0)
    chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, stream=True,
                                                  stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "This is a mock response to: Hello there"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    with client.chat.completions.stream(model=model, messages=MESSAGES, tools=TOOLS[:1]) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock"}
    assert final.choices[0].finish_reason == "tool_calls"


def test_anthropic_sdk_on_gemini(anthropic_gateway):
    address, key = anthropic_gateway
    claude = anthropic.Anthropic(base_url=address, api_key=key, max_retries=0)
    message = claude.messages.create(model="gemini-via-gateway", max_tokens=64, messages=MESSAGES,
                                     tools=[{"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}])
    assert message.stop_reason == "tool_use"
    assert message.content[-1].input == {"zone": "mock"}


def test_anthropic_sdk_on_bedrock_streams(anthropic_gateway):
    address, key = anthropic_gateway
    claude = anthropic.Anthropic(base_url=address, api_key=key, max_retries=0)
    with claude.messages.stream(model="bedrock-via-gateway", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "This is a mock response to: Hello there"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 8


def test_openai_sdk_embeddings_on_gemini(anthropic_gateway):
    address, key = anthropic_gateway
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0)
    default = client.embeddings.create(model="gemini-via-gateway", input=["hello", "world"], dimensions=12)
    floats = client.embeddings.create(model="gemini-via-gateway", input=["hello", "world"], dimensions=12, encoding_format="float")
    assert [len(item.embedding) for item in default.data] == [12, 12]
    for a, b in zip(default.data[0].embedding, floats.data[0].embedding):
        assert abs(a - b) < 1e-6


def test_openai_sdk_sees_claude_thinking_and_sends_it_back(anthropic_gateway):
    address, key = anthropic_gateway
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0)
    completion = client.chat.completions.create(
        model="claude-via-gateway", messages=MESSAGES, max_tokens=200, reasoning_effort="high",
        extra_body={"mock": {"reasoning": "Weigh the greeting."}})
    message = completion.choices[0].message
    assert message.model_extra["reasoning_content"] == "Weigh the greeting."
    block = message.model_extra["thinking_blocks"][0]
    assert block["type"] == "thinking" and block["signature"].startswith("mock-signature-")
    chunks = list(client.chat.completions.create(
        model="claude-via-gateway", messages=MESSAGES, max_tokens=200, reasoning_effort="high", stream=True,
        extra_body={"mock": {"reasoning": "Weigh the greeting."}}))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas) == "Weigh the greeting."
    signed = [b for d in deltas for b in ((d.model_extra or {}).get("thinking_blocks") or [])]
    assert signed and signed[0]["signature"] == block["signature"]
    # The assistant turn goes back with its signed block, as Anthropic requires for tool use.
    follow_up = client.chat.completions.create(
        model="claude-via-gateway", reasoning_effort="high",
        messages=MESSAGES + [message.model_dump(exclude_none=True), {"role": "user", "content": "And now?"}])
    assert follow_up.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model, signed", [("gemini-via-gateway", False), ("bedrock-via-gateway", True)])
def test_anthropic_sdk_gets_any_models_reasoning_as_thinking_blocks(anthropic_gateway, model, signed):
    address, key = anthropic_gateway
    claude = anthropic.Anthropic(base_url=address, api_key=key, max_retries=0)
    thinking = {"type": "enabled", "budget_tokens": 2048}
    message = claude.messages.create(model=model, max_tokens=4096, messages=MESSAGES, thinking=thinking,
                                     extra_body={"mock": {"reasoning": "First, a thought."}})
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "First, a thought."
    assert bool(message.content[0].signature) == signed
    with claude.messages.stream(model=model, max_tokens=4096, messages=MESSAGES, thinking=thinking,
                                extra_body={"mock": {"reasoning": "First, a thought."}}) as stream:
        thoughts = "".join(event.thinking for event in stream if event.type == "thinking")
        final = stream.get_final_message()
    assert thoughts == "First, a thought."
    assert final.content[0].type == "thinking" and final.content[1].type == "text"
    assert final.content[1].text == "This is a mock response to: Hello there"


# Gemini 3 signs its function calls and answers 400 when a call comes back without its
# thought signature (ai.google.dev/gemini-api/docs/thought-signatures); the mock provider does
# the same for gemini-3 models. The loops below pass only when the signature survives the
# OpenAI and Anthropic SDKs' round trip through the gateway.

@pytest.mark.parametrize("stream", [False, True])
def test_openai_sdk_gemini3_tool_loop_keeps_thought_signatures(anthropic_gateway, stream):
    address, key = anthropic_gateway
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0)
    started = int(time.time())
    if stream:
        with client.chat.completions.stream(model="gemini3-via-gateway", messages=MESSAGES, tools=TOOLS,
                                            extra_body={"mock": {"tool_calls": 2}}) as events:
            completion = events.get_final_completion()
    else:
        completion = client.chat.completions.create(model="gemini3-via-gateway", messages=MESSAGES, tools=TOOLS,
                                                    extra_body={"mock": {"tool_calls": 2}})
    assert completion.created >= started
    message = completion.choices[0].message
    calls = message.tool_calls
    assert [call.function.name for call in calls] == ["get_weather", "get_time"]
    assert len({call.id for call in calls}) == 2 and "call_0" not in {call.id for call in calls}
    # The assistant turn goes back as plain dicts with only what every client keeps.
    kept = {"role": "assistant", "content": None,
            "tool_calls": [{"id": call.id, "type": "function",
                            "function": {"name": call.function.name, "arguments": call.function.arguments}} for call in calls]}
    follow_up = client.chat.completions.create(
        model="gemini3-via-gateway", tools=TOOLS,
        messages=MESSAGES + [kept] + [{"role": "tool", "tool_call_id": call.id, "content": "fine"} for call in calls])
    assert follow_up.choices[0].finish_reason == "stop"
    again = client.chat.completions.create(model="gemini3-via-gateway", messages=MESSAGES, tools=TOOLS)
    assert again.choices[0].message.tool_calls[0].id not in {call.id for call in calls}


def test_anthropic_sdk_gemini3_tool_loop_keeps_thought_signatures(anthropic_gateway):
    address, key = anthropic_gateway
    claude = anthropic.Anthropic(base_url=address, api_key=key, max_retries=0)
    tools = [{"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}]
    message = claude.messages.create(model="gemini3-via-gateway", max_tokens=64, messages=MESSAGES, tools=tools)
    assert message.stop_reason == "tool_use"
    use = message.content[-1]
    follow_up = claude.messages.create(
        model="gemini3-via-gateway", max_tokens=64, tools=tools,
        messages=MESSAGES + [{"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]},
                             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "noon"}]}])
    assert follow_up.stop_reason == "end_turn"


@pytest.mark.parametrize("exception, error", [("throttlingException", openai.RateLimitError),
                                               ("validationException", openai.BadRequestError)])
def test_a_bedrock_stream_exception_before_content_is_an_http_error(anthropic_gateway, exception, error):
    address, key = anthropic_gateway
    client = openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0)
    with pytest.raises(error):
        client.chat.completions.create(model="bedrock-via-gateway", messages=MESSAGES, stream=True,
                                       extra_body={"mock": {"error_after": 0, "stream_exception": exception}})
