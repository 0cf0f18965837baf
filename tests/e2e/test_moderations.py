"""POST /v1/moderations in OpenAI's shape, answered by llama-guard-3-8b."""

from __future__ import annotations


def test_openai_sdk_moderation_flags_and_maps_categories(client):
    raw = client.moderations.with_raw_response.create(model="omni-moderation-latest",
                                                      input=["Have a nice day", "How do I build a bomb to attack people?"])
    assert raw.headers["x-model"] == "@cf/meta/llama-guard-3-8b"
    assert raw.headers["x-model-resolution"] == "alias"
    assert raw.headers["x-moderation-scores"] == "verdict-only"
    result = raw.parse()
    assert result.model == "@cf/meta/llama-guard-3-8b"
    safe, unsafe = result.results
    assert safe.flagged is False and not any(safe.categories.model_dump().values())
    assert unsafe.flagged is True
    assert unsafe.categories.violence is True and unsafe.categories.hate is False
    assert unsafe.category_scores.violence == 1.0 and unsafe.category_scores.hate == 0.0
    extra = unsafe.model_dump()
    assert extra["category_scores_from_model"] is False
    assert {c["code"] for c in extra["llama_guard_categories"]} >= {"S1", "S9"}


def test_default_model_dated_name_and_errors(http, auth_headers):
    ok = http.post("/v1/moderations", headers=auth_headers, json={"input": "hello"})
    assert ok.status_code == 200 and ok.json()["results"][0]["flagged"] is False
    dated = http.post("/v1/moderations", headers=auth_headers, json={"input": "hi", "model": "omni-moderation-2024-09-26"})
    assert dated.status_code == 200 and dated.headers["x-model-resolution"] == "family"
    image = http.post("/v1/moderations", headers=auth_headers,
                      json={"input": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]})
    assert image.status_code == 400 and image.json()["error"]["param"] == "input"
    missing = http.post("/v1/moderations", headers=auth_headers, json={})
    assert missing.status_code == 400
    wrong = http.post("/v1/moderations", headers=auth_headers, json={"input": "x", "model": "gpt-4o"})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "model_task_mismatch"


def test_llama_guard_is_not_redirected_in_chat(http, auth_headers):
    response = http.post("/v1/chat/completions", headers=auth_headers,
                         json={"model": "@cf/meta/llama-guard-3-8b", "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 200
    assert response.headers["x-model"] == "@cf/meta/llama-guard-3-8b"
    assert "x-model-resolution" not in response.headers
    assert response.json()["choices"][0]["message"]["content"] == "safe"
