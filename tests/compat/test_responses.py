"""The official OpenAI SDK's Responses API (`client.responses`) against Switchyard, answered by
the mock model: text, streaming with the SDK's own event accumulation, function calls and their
outputs, structured output, reasoning summaries and errors."""
import json

import openai
import pytest


TOOLS = [{"type": "function", "name": "get_weather", "description": "Weather for a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


def test_create_returns_a_typed_response(client):
    response = client.responses.create(model="mock-gpt", instructions="Be brief.", input="Hello there",
                                       max_output_tokens=64)
    assert response.object == "response" and response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.output_text == "This is a mock response to: Hello there"
    assert response.instructions == "Be brief."
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_streaming_is_accumulated_by_the_sdk(client):
    deltas = []
    with client.responses.stream(model="mock-gpt", input="Stream please") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "This is a mock response to: Stream please"
    assert final.status == "completed" and final.usage.output_tokens > 0


def test_function_call_round_trip(client):
    first = client.responses.create(model="mock-gpt", input="Weather in Paris?", tools=TOOLS)
    calls = [item for item in first.output if item.type == "function_call"]
    assert [call.name for call in calls] == ["get_weather"]
    assert json.loads(calls[0].arguments) == {"city": "mock"}
    follow_up = client.responses.create(
        model="mock-gpt", tools=TOOLS,
        input=[{"role": "user", "content": "Weather in Paris?"}, calls[0].model_dump(exclude_none=True),
               {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}])
    assert follow_up.output_text.startswith("This is a mock response")


def test_streamed_function_calls_have_complete_arguments(client):
    with client.responses.stream(model="mock-gpt", input="Weather?", tools=TOOLS) as stream:
        final = stream.get_final_response()
    call = next(item for item in final.output if item.type == "function_call")
    assert json.loads(call.arguments) == {"city": "mock"}


def test_structured_output_and_reasoning_summary(client):
    response = client.responses.create(
        model="mock-gpt", input="Is it ok?", reasoning={"effort": "low"},
        text={"format": {"type": "json_schema", "name": "verdict", "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}},
        extra_body={"mock": {"content": "{\"ok\": true}", "reasoning": "Check the facts."}})
    assert json.loads(response.output_text) == {"ok": True}
    reasoning = next(item for item in response.output if item.type == "reasoning")
    assert reasoning.summary[0].text == "Check the facts."


def test_errors_are_typed_sdk_exceptions(client):
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="hi")
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="mock-gpt", input="hi", previous_response_id="resp_123")
    assert "previous_response_id" in str(refused.value)
