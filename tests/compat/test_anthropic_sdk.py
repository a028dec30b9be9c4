"""The official Anthropic Python SDK against Switchyard's /v1/messages, answered by an
OpenAI-dialect model (the mock provider): the translation must be invisible to the client."""
import json

import anthropic
import httpx
import pytest

MESSAGES = [{"role": "user", "content": "Hello there"}]
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
TIME = {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}


@pytest.fixture
def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=gateway.key, max_retries=0, timeout=30)


def test_message(claude):
    message = claude.messages.create(model="mock-gpt", max_tokens=100, system="Be brief.", messages=MESSAGES)
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.content[0].type == "text"
    assert message.content[0].text == "This is a mock response to: Hello there"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens == 8


def test_stream_event_sequence(claude):
    with claude.messages.stream(model="mock-gpt", max_tokens=100, messages=MESSAGES) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start"
    assert events.count("message_start") == 1
    assert events[-1] == "message_stop"
    assert "message_delta" in events
    assert final.content[0].text == "This is a mock response to: Hello there"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 8


def test_raw_stream_block_indexes_and_order(claude):
    stream = claude.messages.create(model="mock-gpt", max_tokens=100, messages=MESSAGES, tools=[WEATHER, TIME], stream=True,
                                    extra_body={"mock": {"tool_calls": 2, "content": "Let me check."}})
    starts, stops, order = [], [], []
    for event in stream:
        order.append(event.type)
        if event.type == "content_block_start":
            starts.append(event.index)
        elif event.type == "content_block_stop":
            stops.append(event.index)
    # Blocks open in order, never overlap, and each closes before the next opens.
    assert starts == list(range(len(starts)))
    assert stops == starts
    opened = [e for e in order if e in ("content_block_start", "content_block_stop")]
    assert opened == ["content_block_start", "content_block_stop"] * len(starts)


def test_tool_use_round_trip(claude):
    first = claude.messages.create(model="mock-gpt", max_tokens=100, messages=MESSAGES, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    tool = next(block for block in first.content if block.type == "tool_use")
    assert tool.name == "get_weather"
    assert tool.input == {"city": "mock", "days": 42}
    follow_up = claude.messages.create(
        model="mock-gpt",
        max_tokens=100,
        tools=[WEATHER],
        messages=MESSAGES
        + [
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "sunny"}]},
        ],
    )
    assert follow_up.stop_reason == "end_turn"
    assert follow_up.content[0].type == "text"


def test_streamed_parallel_tool_calls(claude):
    with claude.messages.stream(model="mock-gpt", max_tokens=100, messages=MESSAGES, tools=[WEATHER, TIME],
                                extra_body={"mock": {"tool_calls": 2}}) as stream:
        final = stream.get_final_message()
    tools = [block for block in final.content if block.type == "tool_use"]
    assert [tool.name for tool in tools] == ["get_weather", "get_time"]
    assert tools[0].input == {"city": "mock", "days": 42}
    assert tools[1].input == {"zone": "mock"}
    assert final.stop_reason == "tool_use"


def test_tool_choice_none_and_stop_sequences_are_accepted(claude):
    message = claude.messages.create(model="mock-gpt", max_tokens=100, messages=MESSAGES, tools=[WEATHER],
                                     tool_choice={"type": "none"}, stop_sequences=["###"], extra_body={"temperature": 0.2})
    assert message.stop_reason == "end_turn"


def test_image_block_is_translated(gateway, claude):
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
    message = claude.messages.create(model="mock-gpt", max_tokens=50, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": pixel}},
        {"type": "text", "text": "What is this?"},
    ]}])
    assert message.content[0].text == "This is a mock response to: What is this?"


def test_count_tokens(claude):
    count = claude.messages.count_tokens(model="mock-gpt", messages=MESSAGES)
    assert count.input_tokens > 0


def test_errors_use_the_anthropic_envelope(gateway, claude):
    with pytest.raises(anthropic.NotFoundError) as info:
        claude.messages.create(model="mock-gtp", max_tokens=10, messages=MESSAGES)
    assert info.value.body["error"]["type"] == "not_found_error"
    assert "mock-gpt" in info.value.body["error"]["message"]

    bad = anthropic.Anthropic(base_url=gateway.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="mock-gpt", max_tokens=10, messages=MESSAGES)

    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model="mock-gpt", max_tokens=10, messages=[{"role": "system", "content": "x"}])
    assert info.value.body["error"]["type"] == "invalid_request_error"

    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="mock-gpt", max_tokens=10, messages=MESSAGES, extra_body={"mock": {"status": 429}})

    missing = httpx.post(gateway.base_url + "/v1/messages", headers={"x-api-key": gateway.key},
                         json={"model": "mock-gpt", "messages": MESSAGES})
    assert missing.status_code == 400
    assert missing.json() == {"type": "error", "error": {"type": "invalid_request_error", "message": "Missing required parameter: 'max_tokens'."}}


def test_mid_stream_failure_is_an_error_event(claude):
    received = []
    with pytest.raises(anthropic.APIError):
        with claude.messages.stream(model="mock-gpt", max_tokens=100, messages=MESSAGES, extra_body={"mock": {"error_after": 2}}) as stream:
            for text in stream.text_stream:
                received.append(text)
    assert received, "text sent before the failure should have reached the client"
