"""The official OpenAI Python SDK against Switchyard: what users of the SDK rely on."""
import json

import httpx
import openai
import pytest

MESSAGES = [{"role": "user", "content": "Hello there"}]
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


def test_chat_completion(client):
    completion = client.chat.completions.create(model="mock-gpt", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.model == "mock-gpt"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "This is a mock response to: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens == 8
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_alias_resolves(client):
    completion = client.chat.completions.create(model="mock", messages=MESSAGES)
    assert completion.model == "mock-gpt"


def test_stream_without_usage_has_no_usage_chunk(client):
    expected = client.chat.completions.create(model="mock-gpt", messages=MESSAGES).choices[0].message.content
    chunks = list(client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True))
    assert chunks, "no chunks"
    assert all(len(chunk.choices) == 1 for chunk in chunks), "a usage-only chunk reached a client that did not ask for it"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({chunk.id for chunk in chunks}) == 1


def test_stream_with_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="mock-gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens == 8
    assert last.usage.prompt_tokens > 0
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_tool_call(client):
    completion = client.chat.completions.create(model="mock-gpt", messages=MESSAGES, tools=[WEATHER_TOOL])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock", "days": 42}


def test_tool_result_turn_gets_text(client):
    messages = MESSAGES + [
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    completion = client.chat.completions.create(model="mock-gpt", messages=messages, tools=[WEATHER_TOOL])
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content


def test_streamed_parallel_tool_calls_reassemble_by_index(client):
    stream = client.chat.completions.create(
        model="mock-gpt", messages=MESSAGES, tools=[WEATHER_TOOL, TIME_TOOL], stream=True, extra_body={"mock": {"tool_calls": 2}}
    )
    calls: dict = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
            if delta.id:
                entry["id"] = delta.id
            if delta.function and delta.function.name:
                entry["name"] = delta.function.name
            if delta.function and delta.function.arguments:
                entry["arguments"] += delta.function.arguments
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["arguments"]) == {"city": "mock", "days": 42}
    assert json.loads(calls[1]["arguments"]) == {"zone": "mock"}
    assert calls[0]["id"] != calls[1]["id"]


def test_legacy_completions(client):
    completion = client.completions.create(model="mock-gpt", prompt="Say hi")
    assert completion.choices[0].text == "This is a mock response to: Say hi"
    streamed = "".join(chunk.choices[0].text for chunk in client.completions.create(model="mock-gpt", prompt="Say hi", stream=True) if chunk.choices)
    assert streamed == completion.choices[0].text


def test_embeddings_default_base64(client):
    response = client.embeddings.create(model="mock-embedding", input=["hello", "world"])
    assert len(response.data) == 2
    vector = response.data[0].embedding
    assert len(vector) == 8 and all(isinstance(value, float) for value in vector)
    assert abs(sum(value * value for value in vector) - 1.0) < 1e-3
    assert response.usage.prompt_tokens > 0


def test_embeddings_float_and_dimensions(client):
    floats = client.embeddings.create(model="mock-embedding", input="hello", encoding_format="float", dimensions=16)
    assert len(floats.data[0].embedding) == 16
    again = client.embeddings.create(model="mock-embedding", input="hello", dimensions=16)
    assert [round(x, 5) for x in again.data[0].embedding] == [round(x, 5) for x in floats.data[0].embedding]


def test_models(client):
    ids = [model.id for model in client.models.list()]
    assert ids == ["mock-gpt", "mock", "mock-embedding"]
    model = client.models.retrieve("mock")
    assert model.id == "mock" and model.owned_by == "mock"


def test_request_id_header(client):
    raw = client.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES)
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["x-switchyard-provider"] == "mock"
    assert raw.parse().choices[0].message.content


def test_authentication_error(gateway):
    bad = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="mock-gpt", messages=MESSAGES)
    assert info.value.status_code == 401
    assert info.value.body["type"] == "authentication_error"


def test_not_found_error_suggests(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="mock-gtp", messages=MESSAGES)
    assert info.value.code == "model_not_found"
    assert "mock-gpt" in info.value.message


def test_bad_request_names_the_field(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, extra_body={"temperature": "hot"})
    assert info.value.param == "temperature"


def test_malformed_json_is_400(gateway):
    response = httpx.post(
        gateway.base_url + "/v1/chat/completions",
        content=b'{"model": "mock-gpt", "messages": [',
        headers={"authorization": f"Bearer {gateway.key}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert response.headers["x-request-id"]


def test_body_too_large_is_413(client):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "x" * 100_000}])
    assert info.value.status_code == 413


def test_rate_limit_error(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, extra_body={"mock": {"status": 429, "retry_after": "3"}})
    assert info.value.response.headers["retry-after"] == "3"


def test_upstream_server_error_is_502(client):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, extra_body={"mock": {"status": 500}})
    assert info.value.status_code == 502


def test_stream_failing_before_first_byte_is_http_error(client):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True, extra_body={"mock": {"status": 503}})
    assert info.value.status_code == 503


@pytest.mark.parametrize("knob", [{"error_after": 2}, {"drop_after": 2}])
def test_mid_stream_failure_raises_after_content(client, knob):
    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True, extra_body={"mock": knob}):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received, "content sent before the failure should have reached the client"
