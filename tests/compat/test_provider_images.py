"""The official OpenAI SDK's `images.generate` against deployments whose providers speak Google's
and Bedrock's own image APIs: a `switchyard mock-provider` process answers Imagen `:predict`,
Gemini `generateContent` with image output, and Bedrock InvokeModel (Titan Image Generator,
Stability) over a real HTTP hop; the gateway translates both ways and prices per image or token.
"""
import base64
import os
import pathlib
import secrets
import tempfile
import time

import httpx
import openai
import pytest

from conftest import start_process, stop_process

CONFIG = """
server:
  host: 127.0.0.1
  port: 0
  master_key: env:PROVIDER_IMAGES_KEY
  reload_check_interval: off
providers:
  - {{name: google, type: gemini, base_url: '{upstream}', api_key: google-provider-key}}
  - {{name: aws, type: bedrock, base_url: '{upstream}', aws_access_key_id: AKIDCOMPAT, aws_secret_access_key: bedrock-compat-secret, options: {{region: eu-west-1}}}}
models:
  - {{name: imagen, provider: google, model: imagen-4.0-generate-001}}
  - {{name: gemini-image, provider: google, model: gemini-2.5-flash-image}}
  - {{name: titan-image, provider: aws, model: 'amazon.titan-image-generator-v2:0', price: {{per_image: {{'1024x1024': 0.01, '1024x1024/hd': 0.012}}}}}}
  - {{name: stable-image, provider: aws, model: 'stability.stable-image-core-v1:1', price: {{per_image: {{'*': 0.04}}}}}}
"""

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def images_gateway():
    upstream, upstream_address, _ = start_process(["mock-provider", "--port", "0"], "mock provider listening", dict(os.environ))
    # The mock announces its OpenAI base URL (`.../v1`); Google's and Bedrock's paths start at its root.
    upstream_address = upstream_address.removesuffix("/v1")
    workdir = tempfile.mkdtemp(prefix="switchyard-provider-images-")
    config = pathlib.Path(workdir) / "switchyard.yaml"
    config.write_text(CONFIG.format(upstream=upstream_address))
    key = "sy-" + secrets.token_hex(16)
    process, address, _ = start_process(["serve", "--config", str(config), "--log-format", "json"], env=dict(os.environ, PROVIDER_IMAGES_KEY=key))
    try:
        yield address, key, upstream_address
    finally:
        stop_process(process)
        stop_process(upstream)


@pytest.fixture
def images_client(images_gateway):
    address, key, _ = images_gateway
    with openai.OpenAI(base_url=address + "/v1", api_key=key, max_retries=0, timeout=60) as client:
        yield client


def ledger_row(images_gateway, request_id):
    address, key, _ = images_gateway
    for _ in range(200):
        response = httpx.get(f"{address}/admin/logs/{request_id}", headers={"authorization": f"Bearer {key}"}, timeout=10)
        if response.status_code == 200:
            return response.json()
        time.sleep(0.05)
    raise AssertionError(f"no ledger row for {request_id}")


def upstream_last(images_gateway):
    """What the mock provider received last (its stats endpoint)."""
    _, _, upstream = images_gateway
    return httpx.get(f"{upstream}/mock/stats", timeout=10).json()


def test_imagen_on_the_gemini_dialect(images_client, images_gateway):
    raw = images_client.images.with_raw_response.generate(model="imagen", prompt="a lighthouse at dusk", n=2, size="1792x1024")
    images = raw.parse()
    assert len(images.data) == 2
    assert all(base64.b64decode(image.b64_json).startswith(PNG) for image in images.data)
    assert images.output_format == "png" and images.created > 1_700_000_000
    sent = upstream_last(images_gateway)
    assert sent["last_path"] == "/v1beta/models/imagen-4.0-generate-001:predict"
    assert sent["last_body"]["parameters"]["aspectRatio"] == "16:9" and sent["last_body"]["instances"] == [{"prompt": "a lighthouse at dusk"}]
    row = ledger_row(images_gateway, raw.headers["x-switchyard-request-id"])
    assert row["endpoint"] == "image_generations" and abs(row["cost_usd"] - 0.08) < 1e-9


def test_gemini_image_model_reports_its_tokens(images_client, images_gateway):
    raw = images_client.images.with_raw_response.generate(model="gemini-image", prompt="a red kite", size="1024x1536")
    images = raw.parse()
    assert len(images.data) == 1 and base64.b64decode(images.data[0].b64_json).startswith(PNG)
    assert images.usage.output_tokens == 1290 and images.usage.input_tokens > 0
    row = ledger_row(images_gateway, raw.headers["x-switchyard-request-id"])
    expected = (images.usage.input_tokens * 0.3 + 1290 * 30) / 1_000_000
    assert abs(row["cost_usd"] - expected) < 1e-9


def test_titan_and_stability_on_the_bedrock_dialect(images_client, images_gateway):
    raw = images_client.images.with_raw_response.generate(model="titan-image", prompt="a red harbour", n=2, size="1024x1024", quality="hd")
    images = raw.parse()
    assert len(images.data) == 2 and all(base64.b64decode(image.b64_json).startswith(PNG) for image in images.data)
    sent = upstream_last(images_gateway)
    assert sent["last_path"] == "/model/amazon.titan-image-generator-v2%3A0/invoke"
    assert "x-amz-date" in sent["last_headers"], "signed with SigV4"
    assert sent["last_body"]["taskType"] == "TEXT_IMAGE" and sent["last_body"]["imageGenerationConfig"]["quality"] == "premium"
    row = ledger_row(images_gateway, raw.headers["x-switchyard-request-id"])
    assert abs(row["cost_usd"] - 0.024) < 1e-9
    stability = images_client.images.generate(model="stable-image", prompt="a castle", size="1536x1024")
    assert len(stability.data) == 1 and base64.b64decode(stability.data[0].b64_json).startswith(PNG)


def test_what_these_apis_cannot_do_is_a_clear_400(images_client):
    with pytest.raises(openai.BadRequestError) as url:
        images_client.images.generate(model="imagen", prompt="x", response_format="url")
    assert url.value.body["param"] == "response_format" and "b64_json" in url.value.body["message"]
    with pytest.raises(openai.BadRequestError) as size:
        images_client.images.generate(model="imagen", prompt="x", size="1536x1024")
    assert size.value.body["param"] == "size" and "16:9" in size.value.body["message"]
    with pytest.raises(openai.BadRequestError) as filtered:
        images_client.images.generate(model="imagen", prompt="something forbidden")
    assert filtered.value.body["code"] == "content_filter"
