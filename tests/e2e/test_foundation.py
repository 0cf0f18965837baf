"""The foundation, end to end: the worker answers from Python in workerd."""

from __future__ import annotations

import httpx
import openai
import pytest

from support.local_gateway import LocalGateway


# How each runtime the harness can start calls the worker, and the Python it brings.
ENTRY_STYLE = {"legacy": "legacy", "production": "modern"}
PYTHON = {"legacy": "3.12", "production": "3.14"}


def test_health_is_public_and_names_the_runtime(http, gateway):
    response = http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    # The runtime the harness asked for is the one that answered (production: Default.fetch).
    assert body["runtime"] == ENTRY_STYLE[gateway.runtime]
    assert body["python"].startswith(PYTHON[gateway.runtime] + ".")
    assert body["pyodide"]
    assert body["bindings"] == {"AI": True, "IMAGES": True}
    assert body["auth"] == {"api_keys_configured": True}
    assert "sk-test-key" not in response.text


def test_models_need_a_key(http):
    response = http.get("/v1/models")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert error["code"] == "missing_api_key"


def test_wrong_key_is_refused(http):
    response = http.get("/v1/models", headers={"Authorization": "Bearer sk-nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("key", ["sk-test-key", "sk-second-key"])
def test_every_configured_key_is_accepted(http, key):
    response = http.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_models_list_with_the_openai_client(client):
    models = client.models.list()
    ids = [model.id for model in models.data]
    assert "@cf/meta/llama-3.1-8b-instruct-fast" in ids
    assert "@cf/meta/m2m100-1.2b" in ids
    assert all(model.object == "model" for model in models.data)


def test_model_ids_with_slashes_can_be_retrieved(client):
    model = client.models.retrieve("@cf/baai/bge-m3")
    assert model.id == "@cf/baai/bge-m3"
    assert model.owned_by == "baai"


def test_unknown_model_is_a_404_in_openais_envelope(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("@cf/nobody/no-such-model")
    assert caught.value.body["code"] == "model_not_found"


def test_preflight_needs_no_key_and_allows_the_api_headers(http):
    response = http.options(
        "/v1/chat/completions",
        headers={
            "Origin": "https://chat.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_unknown_path_is_a_404_and_wrong_method_a_405(http, auth_headers):
    missing = http.get("/v1/nothing-here", headers=auth_headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_path"
    wrong = http.delete("/v1/models", headers=auth_headers)
    assert wrong.status_code == 405
    assert "GET" in wrong.headers["allow"]


def test_fails_closed_without_configured_keys():
    local = LocalGateway(api_keys="")
    try:
        health = httpx.get(f"{local.url}/health").json()
        assert health["auth"] == {"api_keys_configured": False}
        response = httpx.get(f"{local.url}/v1/models", headers={"Authorization": "Bearer anything"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "api_keys_not_configured"
        assert "wrangler secret put API_KEYS" in response.json()["error"]["message"]
        # The DeepLX address is closed too, in DeepLX's envelope.
        translate = httpx.post(f"{local.url}/translate?password=anything", json={"text": "hi", "target_lang": "DE"})
        assert translate.status_code == 401
        assert translate.json()["code"] == 401 and "TRANSLATE_PASSWORD" in translate.json()["message"]
    finally:
        assert local.stop() == 0, local.log()


def test_local_run_stops_cleanly_on_sigterm():
    local = LocalGateway()
    assert local.stop() == 0
    assert "SIGTERM: stopping" in local.log()
