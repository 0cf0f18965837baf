"""The live model list: /v1/models from the AI binding's models(), the catalog as fallback, ids served by task."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from support.local_gateway import LocalGateway

NEW_CHAT = "@cf/vendor/brand-new-chat"
LIVE_LIST = [
    {"id": "0000", "source": 1, "name": NEW_CHAT, "description": "", "tags": [],
     "task": {"id": "t", "name": "Text Generation", "description": ""},
     "properties": [{"property_id": "require_workers_paid", "value": "true"},
                    {"property_id": "function_calling", "value": "true"}]},
    {"id": "0001", "source": 1, "name": "@cf/meta/llama-3.1-8b-instruct-fast", "description": "", "tags": [],
     "task": {"id": "t", "name": "Text Generation", "description": ""}, "properties": []},
    {"id": "0002", "source": 1, "name": "@cf/vendor/reranker", "description": "", "tags": [],
     "task": {"id": "t", "name": "Text Classification", "description": ""}, "properties": []},
]


def test_models_come_from_the_binding_with_task_and_paid_plan(http, auth_headers):
    response = http.get("/v1/models", headers=auth_headers)
    assert response.status_code == 200
    assert response.headers["x-catalog-source"] == "live"
    by_id = {m["id"]: m for m in response.json()["data"]}
    kimi = by_id["@cf/moonshotai/kimi-k2.6"]
    assert (kimi["task"], kimi["workers_ai_task"], kimi["requires_paid_plan"]) == ("chat", "Text Generation", True)
    assert by_id["@cf/zai-org/glm-4.7-flash"]["requires_paid_plan"] is False
    assert by_id["@cf/meta/llama-guard-3-8b"]["task"] == "moderation"
    assert by_id["@cf/deepgram/nova-3"]["task"] == "speech-to-text"
    assert by_id["@cf/black-forest-labs/flux-2-klein-4b"]["task"] == "text-to-image"
    assert "@cf/google/gemma-3-12b-it" not in by_id and "@cf/moonshotai/kimi-k2.5" not in by_id
    # Merged with the gateway's aliases.
    assert by_id["gpt-4o-transcribe"]["root"] == "@cf/deepgram/nova-3"
    assert by_id["gpt-5"]["root"] == "@cf/openai/gpt-oss-120b"


def test_openai_sdk_lists_and_retrieves(client):
    ids = {m.id for m in client.models.list()}
    assert {"@cf/deepgram/aura-2-en", "gpt-4o-mini-tts", "@cf/ai4bharat/indictrans2-en-indic-1B"} <= ids
    assert client.models.retrieve("@cf/pfnet/plamo-embedding-1b").id == "@cf/pfnet/plamo-embedding-1b"


@pytest.fixture(scope="module")
def live_gateway(make_httpserver):
    # No per-isolate cache: each request reads the (scripted) live list again.
    local = LocalGateway(api_keys="sk-test-key", upstream=make_httpserver.url_for("/"), extra_env={"MODELS_CACHE_SECONDS": "0"})
    yield local
    local.stop()


@pytest.fixture(scope="module")
def cached_gateway(make_httpserver):
    local = LocalGateway(api_keys="sk-test-key", upstream=make_httpserver.url_for("/"), extra_env={"MODELS_CACHE_SECONDS": "600"})
    yield local
    local.stop()


def _get(gateway, path):
    return httpx.get(f"{gateway.url}{path}", headers={"Authorization": f"Bearer {gateway.api_key}"}, timeout=30)


def test_an_id_only_the_live_list_knows_is_served_by_its_task(live_gateway, httpserver):
    httpserver.expect_request("/ai/models", method="POST").respond_with_json(LIVE_LIST)
    httpserver.expect_oneshot_request("/ai/run", method="POST").respond_with_json({"response": "hello from the new model"})
    models = _get(live_gateway, "/v1/models")
    assert models.headers["x-catalog-source"] == "live"
    by_id = {m["id"]: m for m in models.json()["data"]}
    assert by_id[NEW_CHAT]["requires_paid_plan"] is True and by_id[NEW_CHAT]["capabilities"] == ["tools"]
    assert "@cf/vendor/reranker" not in by_id  # a task the gateway does not serve
    # Only what the live list holds: catalog models it does not list are not offered.
    assert "@cf/openai/gpt-oss-120b" not in by_id

    client = openai.OpenAI(base_url=f"{live_gateway.url}/v1", api_key=live_gateway.api_key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="brand-new-chat", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-model"] == NEW_CHAT and raw.headers["x-model-resolution"] == "live"
    assert raw.parse().choices[0].message.content == "hello from the new model"
    run_calls = [json.loads(req.data) for req, _ in httpserver.log if req.path == "/ai/run"]
    assert run_calls[-1]["model"] == NEW_CHAT

    # The live list says which task: an embeddings request naming a chat model is refused, no AI call.
    wrong = httpx.post(f"{live_gateway.url}/v1/embeddings", headers={"Authorization": f"Bearer {live_gateway.api_key}"},
                       json={"model": NEW_CHAT, "input": "x"})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "model_task_mismatch"


def test_when_the_live_list_fails_the_catalog_answers(live_gateway, httpserver):
    httpserver.expect_request("/ai/models", method="POST").respond_with_data("boom", status=500)
    models = _get(live_gateway, "/v1/models")
    assert models.status_code == 200
    assert models.headers["x-catalog-source"] == "fallback"
    by_id = {m["id"]: m for m in models.json()["data"]}
    assert by_id["@cf/moonshotai/kimi-k2.6"]["requires_paid_plan"] is True
    assert by_id["gpt-4o"]["root"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    # A retired id is still redirected from the table alone.
    httpserver.expect_oneshot_request("/ai/run", method="POST").respond_with_json({"response": "ok"})
    chat = httpx.post(f"{live_gateway.url}/v1/chat/completions", headers={"Authorization": f"Bearer {live_gateway.api_key}"},
                      json={"model": "@cf/google/gemma-3-12b-it", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    assert chat.status_code == 200
    assert (chat.headers["x-model"], chat.headers["x-model-resolution"]) == ("@cf/google/gemma-4-26b-a4b-it", "retired")


def test_the_live_list_is_cached_per_isolate(cached_gateway, httpserver):
    httpserver.expect_request("/ai/models", method="POST").respond_with_json(LIVE_LIST)
    for _ in range(3):
        assert _get(cached_gateway, "/v1/models").headers["x-catalog-source"] == "live"
    assert sum(1 for req, _ in httpserver.log if req.path == "/ai/models") == 1
