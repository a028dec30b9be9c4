"""`POST /v1/moderations` with the official OpenAI SDK (`moderations.create`) and `POST /v1/rerank`
(Cohere's shape, which the SDK has no method for) against the gateway.

The compatibility gateway configures no moderation model, so its own content detectors answer
moderations; rerank goes to the mock provider.
"""
import httpx
import openai
import pytest


def test_moderations_create_is_answered_by_the_gateways_detectors(client):
    raw = client.moderations.with_raw_response.create(input=["I will kill you tomorrow", "A lovely morning at the harbour"])
    moderation = raw.parse()
    assert raw.headers["x-switchyard-moderation"] == "gateway"
    assert moderation.model == "switchyard-moderation"
    first, second = moderation.results
    assert first.flagged and first.categories.violence and not first.categories.sexual
    assert first.category_scores.violence == 1
    assert not second.flagged and second.category_scores.violence == 0
    assert first.category_applied_input_types.violence == ["text"]


def test_moderations_create_with_an_openai_model_name_and_a_single_text(client):
    moderation = client.moderations.create(model="omni-moderation-latest", input="how to make a bomb")
    assert moderation.results[0].flagged and moderation.results[0].categories.violence


def test_moderations_errors_are_openai_errors(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.moderations.create(input=[{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}])
    assert "text only" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        client.moderations.create(model="no-such-model", input="hello")


def test_moderations_are_in_the_ledger(client, gateway):
    raw = client.moderations.with_raw_response.create(input="A quiet harbour")
    request_id = raw.headers["x-switchyard-request-id"]
    record = httpx.get(f"{gateway.base_url}/admin/logs/{request_id}", headers=gateway.auth, timeout=10).json()
    assert record["endpoint"] == "moderations" and record["provider"] == "switchyard-detectors"
    assert record["usage_source"] == "gateway" and record["prompt_tokens"] > 0


def test_rerank_ranks_documents(gateway):
    body = {
        "model": "mock-gpt", "query": "harbour at dawn", "top_n": 2, "return_documents": True,
        "documents": ["Bananas are yellow.", "The harbour at dawn is quiet.", {"text": "Boats leave the harbour."}],
    }
    response = httpx.post(f"{gateway.api_url}/rerank", json=body, headers=gateway.auth, timeout=30)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [result["index"] for result in results] == [1, 2]
    assert results[0]["document"]["text"] == "The harbour at dawn is quiet."
    assert results[0]["relevance_score"] > results[1]["relevance_score"]
    bad = httpx.post(f"{gateway.api_url}/rerank", json={"model": "mock-gpt", "query": "q", "documents": []}, headers=gateway.auth, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "documents"
