"""The official OpenAI Python SDK against Switchyard: what users of the SDK rely on.

Every request goes through the gateway to its built-in mock provider, steered per request with
extra_body={"mock": {...}} (the gateway forwards unknown fields untouched).
"""
import asyncio
import base64
import json
import struct
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

MESSAGES = [{"role": "user", "content": "Hello there"}]
MOCK_ANSWER = "This is a mock response to: Hello there"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}
SCALE_TOOL = {
    "type": "function",
    "function": {
        "name": "scale",
        "parameters": {
            "type": "object",
            "properties": {"factor": {"type": "number"}, "exact": {"type": "boolean"}, "note": {"type": "string"}},
            "required": ["factor", "exact"],
        },
    },
}


def collect_tool_calls(stream):
    """Reassembles streamed tool-call deltas by index, as SDK users do; returns (calls, finish_reason, first deltas)."""
    calls: dict = {}
    first_deltas: dict = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            first_deltas.setdefault(delta.index, delta)
            entry = calls.setdefault(delta.index, {"id": None, "type": None, "name": None, "arguments": ""})
            if delta.id:
                entry["id"] = delta.id
            if delta.type:
                entry["type"] = delta.type
            if delta.function and delta.function.name:
                entry["name"] = delta.function.name
            if delta.function and delta.function.arguments:
                entry["arguments"] += delta.function.arguments
        finish = choice.finish_reason or finish
    return calls, finish, first_deltas


# MARK: Chat completions


def test_chat_completion(client):
    completion = client.chat.completions.create(model="mock-gpt", messages=MESSAGES)
    assert completion.id and completion.id.startswith("chatcmpl")
    assert completion.object == "chat.completion"
    assert isinstance(completion.created, int) and completion.created > 0
    assert completion.model == "mock-gpt"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == MOCK_ANSWER
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens == 8
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_alias_resolves(client):
    completion = client.chat.completions.create(model="mock", messages=MESSAGES)
    assert completion.model == "mock-gpt"
    assert completion.choices[0].message.content == MOCK_ANSWER


def test_unknown_fields_reach_the_provider(client):
    completion = client.chat.completions.create(model="mock-gpt", messages=MESSAGES, extra_body={"mock": {"content": "fixed answer"}})
    assert completion.choices[0].message.content == "fixed answer"


def test_stream_without_usage_has_no_usage_chunk(client):
    expected = client.chat.completions.create(model="mock-gpt", messages=MESSAGES).choices[0].message.content
    chunks = list(client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True))
    assert chunks, "no chunks"
    assert all(len(chunk.choices) == 1 for chunk in chunks), "a usage-only chunk reached a client that did not ask for it"
    assert all(chunk.usage is None for chunk in chunks), "usage reached a client that did not ask for it"
    assert all(chunk.object == "chat.completion.chunk" and chunk.model == "mock-gpt" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    assert len({chunk.id for chunk in chunks}) == 1


def test_stream_chunk_count_follows_the_mock(client):
    stream = client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True, extra_body={"mock": {"chunks": 3}})
    contents = [chunk.choices[0].delta.content for chunk in stream if chunk.choices and chunk.choices[0].delta.content]
    assert len(contents) == 3
    assert "".join(contents) == MOCK_ANSWER


def test_stream_with_usage(client):
    chunks = list(
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == 8
    assert last.usage.prompt_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert all(len(chunk.choices) == 1 for chunk in chunks[:-1])
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks[:-1]) == MOCK_ANSWER


def test_stream_with_usage_off_explicitly(client):
    chunks = list(
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": False})
    )
    assert all(len(chunk.choices) == 1 and chunk.usage is None for chunk in chunks)


def test_stream_helper_accumulates_the_final_completion(client):
    with client.chat.completions.stream(model="mock-gpt", messages=MESSAGES) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "content.delta" in events and "content.done" in events
    assert final.choices[0].message.content == MOCK_ANSWER
    assert final.choices[0].finish_reason == "stop"


def test_stream_with_slow_first_token(client):
    stream = client.chat.completions.create(
        model="mock-gpt", messages=MESSAGES, stream=True, extra_body={"mock": {"first_token_delay_ms": 300, "chunk_delay_ms": 20}}
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == MOCK_ANSWER


def test_concurrent_streams_do_not_mix(client):
    def run(index):
        messages = [{"role": "user", "content": f"question {index}"}]
        stream = client.chat.completions.create(model="mock-gpt", messages=messages, stream=True, extra_body={"mock": {"chunk_delay_ms": 5}})
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(run, range(16)))
    assert answers == [f"This is a mock response to: question {index}" for index in range(16)]


def test_async_client_streams(async_client):
    async def main():
        async with async_client:
            completion = await async_client.chat.completions.create(model="mock-gpt", messages=MESSAGES)
            stream = await async_client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True)
            streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
            return completion.choices[0].message.content, streamed

    content, streamed = asyncio.run(main())
    assert content == streamed == MOCK_ANSWER


# MARK: Tool calls


def test_tool_call(client):
    completion = client.chat.completions.create(model="mock-gpt", messages=MESSAGES, tools=[WEATHER_TOOL])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.role == "assistant"
    assert len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.id == "call_mock_0"
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock", "days": 42}


def test_tool_call_arguments_follow_the_schema_types(client):
    completion = client.chat.completions.create(model="mock-gpt", messages=MESSAGES, tools=[SCALE_TOOL])
    call = completion.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"factor": 1.5, "exact": True}


def test_parallel_tool_calls(client):
    completion = client.chat.completions.create(
        model="mock-gpt", messages=MESSAGES, tools=[WEATHER_TOOL, TIME_TOOL], extra_body={"mock": {"tool_calls": 2}}
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [call.id for call in calls] == ["call_mock_0", "call_mock_1"]
    assert [call.function.name for call in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "mock", "days": 42}
    assert json.loads(calls[1].function.arguments) == {"zone": "mock"}


def test_tool_choice_none_gets_text(client):
    completion = client.chat.completions.create(model="mock-gpt", messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice="none")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content == MOCK_ANSWER
    assert not completion.choices[0].message.tool_calls


def test_tool_result_turn_gets_text(client):
    messages = MESSAGES + [
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    completion = client.chat.completions.create(model="mock-gpt", messages=messages, tools=[WEATHER_TOOL])
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content


def test_streamed_tool_call(client):
    stream = client.chat.completions.create(model="mock-gpt", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True)
    calls, finish, first = collect_tool_calls(stream)
    assert finish == "tool_calls"
    assert list(calls) == [0]
    # The first delta of a call names it; later ones carry only argument fragments.
    assert first[0].id == "call_mock_0" and first[0].type == "function" and first[0].function.name == "get_weather"
    assert first[0].function.arguments == ""
    assert calls[0]["id"] == "call_mock_0" and calls[0]["type"] == "function"
    assert json.loads(calls[0]["arguments"]) == {"city": "mock", "days": 42}


def test_streamed_parallel_tool_calls_reassemble_by_index(client):
    stream = client.chat.completions.create(
        model="mock-gpt", messages=MESSAGES, tools=[WEATHER_TOOL, TIME_TOOL], stream=True, extra_body={"mock": {"tool_calls": 2}}
    )
    calls, finish, _ = collect_tool_calls(stream)
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert [calls[i]["id"] for i in sorted(calls)] == ["call_mock_0", "call_mock_1"]
    assert json.loads(calls[0]["arguments"]) == {"city": "mock", "days": 42}
    assert json.loads(calls[1]["arguments"]) == {"zone": "mock"}


def test_streamed_tool_calls_with_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="mock-gpt", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    calls, finish, _ = collect_tool_calls(chunks)
    assert finish == "tool_calls" and json.loads(calls[0]["arguments"]) == {"city": "mock", "days": 42}


def test_stream_helper_parses_tool_calls(client):
    with client.chat.completions.stream(model="mock-gpt", messages=MESSAGES, tools=[WEATHER_TOOL]) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert final.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock", "days": 42}


# MARK: Legacy completions


def test_legacy_completions(client):
    completion = client.completions.create(model="mock-gpt", prompt="Say hi")
    assert completion.object == "text_completion"
    assert completion.id
    assert completion.model == "mock-gpt"
    assert completion.choices[0].text == "This is a mock response to: Say hi"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 8
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_legacy_completions_stream(client):
    chunks = list(client.completions.create(model="mock", prompt="Say hi", stream=True))
    assert all(len(chunk.choices) == 1 for chunk in chunks), "a usage-only chunk reached a client that did not ask for it"
    assert "".join(chunk.choices[0].text for chunk in chunks) == "This is a mock response to: Say hi"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_legacy_completions_stream_with_usage(client):
    chunks = list(client.completions.create(model="mock-gpt", prompt="Say hi", stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 8
    assert "".join(chunk.choices[0].text for chunk in chunks[:-1]) == "This is a mock response to: Say hi"


# MARK: Embeddings


def test_embeddings_default_base64(client):
    response = client.embeddings.create(model="mock-embedding", input=["hello", "world"])
    assert response.object == "list"
    assert response.model == "mock-embedding"
    assert [item.index for item in response.data] == [0, 1]
    vector = response.data[0].embedding
    assert len(vector) == 8 and all(isinstance(value, float) for value in vector)
    assert abs(sum(value * value for value in vector) - 1.0) < 1e-3
    assert response.data[0].embedding != response.data[1].embedding
    assert response.usage.prompt_tokens > 0


def test_embeddings_base64_on_the_wire(client):
    raw = client.embeddings.with_raw_response.create(model="mock-embedding", input="hello", encoding_format="base64")
    encoded = json.loads(raw.text)["data"][0]["embedding"]
    assert isinstance(encoded, str)
    decoded = struct.unpack("<8f", base64.b64decode(encoded))
    floats = client.embeddings.create(model="mock-embedding", input="hello", encoding_format="float").data[0].embedding
    assert [round(x, 5) for x in decoded] == [round(x, 5) for x in floats]


def test_embeddings_float_and_dimensions(client):
    floats = client.embeddings.create(model="mock-embedding", input="hello", encoding_format="float", dimensions=16)
    assert len(floats.data[0].embedding) == 16
    assert abs(sum(value * value for value in floats.data[0].embedding) - 1.0) < 1e-3
    again = client.embeddings.create(model="mock-embedding", input="hello", dimensions=16)
    assert [round(x, 5) for x in again.data[0].embedding] == [round(x, 5) for x in floats.data[0].embedding]


def test_embeddings_are_deterministic(client):
    first = client.embeddings.create(model="mock-embedding", input="same text").data[0].embedding
    second = client.embeddings.create(model="mock-embedding", input="same text").data[0].embedding
    assert first == second


# MARK: Models


def test_models(client):
    ids = [model.id for model in client.models.list()]
    assert ids == ["mock-gpt", "mock", "mock-embedding", "mock-limited"]
    assert all(model.object == "model" for model in client.models.list())


@pytest.mark.parametrize("model_id", ["mock-gpt", "mock", "mock-embedding"])
def test_model_retrieve(client, model_id):
    model = client.models.retrieve(model_id)
    assert model.id == model_id
    assert model.object == "model"
    assert model.owned_by == "mock"


def test_model_retrieve_unknown(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert info.value.status_code == 404


# MARK: Headers


def test_request_id_header(client):
    raw = client.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES)
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["x-switchyard-provider"] == "mock"
    assert raw.parse().choices[0].message.content == MOCK_ANSWER


def test_request_id_header_on_streams_and_errors(client):
    with client.chat.completions.with_streaming_response.create(model="mock-gpt", messages=MESSAGES, stream=True) as response:
        assert response.headers["x-request-id"].startswith("req_")
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "".join(chunk.choices[0].delta.content or "" for chunk in response.parse()) == MOCK_ANSWER
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert info.value.response.headers["x-request-id"].startswith("req_")
    assert info.value.request_id == info.value.response.headers["x-request-id"]


def test_request_ids_are_unique(client):
    ids = {client.models.with_raw_response.list().headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# MARK: Errors


def test_authentication_error(gateway):
    with openai.OpenAI(base_url=gateway.api_url, api_key="wrong", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.chat.completions.create(model="mock-gpt", messages=MESSAGES)
    assert info.value.status_code == 401
    assert info.value.body["type"] == "authentication_error"
    assert info.value.message


def test_missing_key_is_401_and_x_api_key_works(gateway):
    body = {"model": "mock-gpt", "messages": MESSAGES}
    missing = httpx.post(gateway.api_url + "/chat/completions", json=body)
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    accepted = httpx.post(gateway.api_url + "/chat/completions", json=body, headers={"x-api-key": gateway.key})
    assert accepted.status_code == 200
    assert accepted.json()["choices"][0]["message"]["content"] == MOCK_ANSWER


def test_not_found_error_suggests(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="mock-gtp", messages=MESSAGES)
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"
    assert info.value.type == "invalid_request_error"
    assert "mock-gpt" in info.value.message
    assert set(info.value.body) >= {"message", "type", "param", "code"}


def test_not_found_on_a_stream_is_an_http_error(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="mock-gtp", messages=MESSAGES, stream=True)
    assert info.value.code == "model_not_found"


def test_bad_request_messages_not_an_array(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="mock-gpt", messages=3)
    assert info.value.status_code == 400
    assert info.value.type == "invalid_request_error"
    assert info.value.param == "messages"


def test_bad_request_names_the_field(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, extra_body={"temperature": "hot"})
    assert info.value.param == "temperature"


def test_malformed_json_is_400(gateway):
    response = httpx.post(
        gateway.api_url + "/chat/completions",
        content=b'{"model": "mock-gpt", "messages": [',
        headers={**gateway.auth, "content-type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_json"
    assert response.headers["x-request-id"]


def test_body_too_large_is_413(client):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "x" * 100_000}])
    assert info.value.status_code == 413
    assert info.value.body["type"] == "invalid_request_error"


def test_rate_limit_error(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="mock-limited", messages=MESSAGES, extra_body={"mock": {"status": 429, "retry_after": "3"}})
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "3"


def test_upstream_server_error_is_502(client):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, extra_body={"mock": {"status": 500}})
    assert info.value.status_code == 502
    assert info.value.message


def test_upstream_unavailable_is_503(client):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, extra_body={"mock": {"status": 503}})
    assert info.value.status_code == 503


def test_stream_failing_before_first_byte_is_http_error(client):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True, extra_body={"mock": {"status": 503}})
    assert info.value.status_code == 503


def test_embeddings_error_maps_too(client):
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="mock-embedding", input="hello", extra_body={"mock": {"status": 429}})


@pytest.mark.parametrize("knob", [{"error_after": 2}, {"drop_after": 2}, {"malformed": True}])
def test_mid_stream_failure_raises_after_content(client, knob):
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True, extra_body={"mock": knob}):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received, "content sent before the failure should have reached the client"
    assert "".join(received) != MOCK_ANSWER
    assert isinstance(info.value.body, dict) and info.value.body.get("message")
    assert info.value.message == info.value.body["message"]


def test_mid_stream_failure_in_legacy_completions(client):
    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.completions.create(model="mock-gpt", prompt="Say hi", stream=True, extra_body={"mock": {"error_after": 2}}):
            received.extend(choice.text for choice in chunk.choices if choice.text)
    assert received
