"""Platform options through the real worker (issue 30): the AI Gateway option reaching the
binding (checked by the emulator's scripts/local/gateway-options.mjs), LoRA, dropped parameters
and the per-message length limit."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from support.local_gateway import LocalGateway

KEY = "sk-gateway-key"
LORA_MODEL = "@cf/google/gemma-2b-it-lora"


@pytest.fixture(scope="module")
def routed_gateway(make_httpserver):
    """A worker with AI_GATEWAY_ID set, whose AI calls go (through the emulator) to the test's server."""
    local = LocalGateway(api_keys=KEY, upstream=make_httpserver.url_for("/"),
                         extra_env={"AI_GATEWAY_ID": "my-gateway", "AI_GATEWAY_CACHE_TTL": "300",
                                    "AI_GATEWAY_SKIP_CACHE": "false"})
    yield local
    local.stop()


def post(gateway, body, key=KEY):
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        return client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def test_every_ai_call_carries_the_gateway_option_with_the_keys_hash(routed_gateway, httpserver):
    httpserver.expect_oneshot_request("/ai/run", method="POST").respond_with_json(
        {"response": "hello", "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
    response = post(routed_gateway, {"model": "@cf/meta/llama-3.1-8b-instruct-fast",
                                     "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    sent = json.loads(httpserver.log[0][0].get_data())
    gateway = sent["options"]["gateway"]
    assert gateway["id"] == "my-gateway" and gateway["cacheTtl"] == 300 and gateway["skipCache"] is False
    key_id = gateway["metadata"]["key"]
    assert isinstance(key_id, str) and key_id and KEY not in json.dumps(sent)
    assert key_id != hashlib.sha256(b"").hexdigest()


def test_a_lora_shorthand_reaches_the_model_as_lora(routed_gateway, httpserver):
    httpserver.expect_oneshot_request("/ai/run", method="POST").respond_with_json(
        {"response": "tuned", "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
    response = post(routed_gateway, {"model": f"{LORA_MODEL}:cf-public-cnn-summarization",
                                     "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["model"] == LORA_MODEL and sent["inputs"]["lora"] == "cf-public-cnn-summarization"
    assert response.headers["X-Model"] == f"{LORA_MODEL}:cf-public-cnn-summarization"


def test_lora_passes_the_emulators_contract_check(http, auth_headers):
    response = http.post("/v1/chat/completions", headers=auth_headers,
                         json={"model": LORA_MODEL, "lora": "my-adapter", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert "X-Dropped-Params" not in response.headers


def test_parameters_a_model_does_not_take_are_named(http, auth_headers):
    response = http.post("/v1/chat/completions", headers=auth_headers,
                         json={"model": "@cf/meta/llama-3.1-8b-instruct-fast", "reasoning_effort": "low",
                               "chat_template_kwargs": {"enable_thinking": False},
                               "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert set(response.headers["X-Dropped-Params"].split(",")) == {"reasoning_effort", "chat_template_kwargs"}


def test_reasoning_parameters_reach_a_model_that_takes_them(http, auth_headers):
    response = http.post("/v1/chat/completions", headers=auth_headers,
                         json={"model": "@cf/zai-org/glm-4.7-flash", "reasoning_effort": "low",
                               "chat_template_kwargs": {"enable_thinking": False},
                               "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert "X-Dropped-Params" not in response.headers


@pytest.mark.parametrize("model", ["@cf/meta/llama-3.1-8b-instruct-fast", "@cf/google/gemma-7b-it-lora"])  # pages that cap a message
def test_a_message_longer_than_the_model_takes_is_refused(http, auth_headers, model):
    response = http.post("/v1/chat/completions", headers=auth_headers,
                         json={"model": model, "messages": [{"role": "user", "content": "a" * 131_073}]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content"
