"""A provider that reports no usage (as llama.cpp's Python server ignores
`stream_options.include_usage`): the gateway counts prompt and completion itself, and both
official SDKs see that count where they look for usage. The mock is told to omit usage with
`"mock": {"omit_usage": true}`."""
import anthropic
import pytest

NO_USAGE = {"mock": {"omit_usage": True}}
MESSAGES = [{"role": "user", "content": "Describe the harbour at dawn in a few sentences."}]


@pytest.fixture
def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=gateway.key, max_retries=0, timeout=30)


def test_openai_stream_with_include_usage_gets_the_gateways_count(client):
    stream = client.chat.completions.create(
        model="mock-gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": True}, extra_body=NO_USAGE
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text
    usage_chunks = [chunk for chunk in chunks if chunk.usage is not None]
    assert len(usage_chunks) == 1, "exactly one usage chunk, as OpenAI sends it"
    usage = usage_chunks[0].usage
    assert usage_chunks[0].choices == []
    assert usage.prompt_tokens > 5 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_openai_stream_without_include_usage_has_no_usage_chunk(client):
    stream = client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True, extra_body=NO_USAGE)
    chunks = list(stream)
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks), "no usage-only chunk that would break choices[0]"


def test_openai_answer_without_usage_is_counted_in_the_ledger(client, gateway):
    raw = client.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES, extra_body=NO_USAGE)
    request_id = raw.headers["x-request-id"]
    raw.parse()
    import httpx

    log = httpx.get(f"{gateway.base_url}/admin/logs/{request_id}", headers={"Authorization": f"Bearer {gateway.key}"}, timeout=10)
    assert log.status_code == 200, log.text
    record = log.json()
    assert record["usage_source"] == "gateway"
    assert record["prompt_tokens"] > 5 and record["completion_tokens"] > 0


def test_anthropic_stream_on_a_provider_without_usage(claude):
    with claude.messages.stream(model="mock-gpt", max_tokens=200, messages=MESSAGES, extra_body=NO_USAGE) as stream:
        for _ in stream:
            pass
        final = stream.get_final_message()
    assert final.content and final.content[0].text
    assert final.usage.output_tokens > 0, "output counted by the gateway"
