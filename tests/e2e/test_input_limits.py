"""Input hardening left over from issue 28, against the worker in workerd: lone surrogates are a 400
on every JSON route (never a 500), the JSON complexity check counts values rather than the commas
and brackets inside strings, /v1/responses and /v1/completions take chat's body limit, and
/translate's credential is one guess per request."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"
M2M = "@cf/meta/m2m100-1.2b"
LONE = "a\ud800b"  # json.dumps writes it as the escape `\ud800`, the only way JSON text can carry it


def post_json(gateway, path: str, body: dict, headers: dict | None = None) -> httpx.Response:
    content = json.dumps(body)  # ensure_ascii: lone surrogates become \ud800 escapes
    assert "\\ud800" in content
    return httpx.post(f"{gateway.url}{path}", content=content, timeout=60,
                      headers={"Authorization": f"Bearer {gateway.api_key}", "Content-Type": "application/json",
                               **(headers or {})})


def openai_error(response) -> dict:
    return response.json()["error"]


# --- lone surrogates ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", {"model": CHAT_MODEL, "messages": [{"role": "user", "content": LONE}]}),
    ("/v1/chat/completions", {"model": LONE, "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/chat/completions", {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi", LONE: 1}]}),
    ("/v1/completions", {"model": CHAT_MODEL, "prompt": LONE}),
    ("/v1/responses", {"model": CHAT_MODEL, "input": LONE}),
    ("/v1/responses", {"model": CHAT_MODEL, "input": [{"role": "user", "content": [{"type": "input_text", "text": LONE}]}]}),
    ("/v1/embeddings", {"model": "@cf/baai/bge-m3", "input": ["fine", LONE]}),
], ids=["chat", "chat-model", "chat-key", "completions", "responses", "responses-parts", "embeddings"])
def test_a_lone_surrogate_is_an_openai_400(gateway, path, body):
    response = post_json(gateway, path, body)
    assert response.status_code == 400, response.text
    error = openai_error(response)
    assert error["code"] == "invalid_unicode" and error["type"] == "invalid_request_error"
    assert "lone surrogate" in error["message"]


def test_a_lone_surrogate_on_ai_run_is_a_cloudflare_400(gateway):
    response = post_json(gateway, f"/ai/run/{M2M}", {"text": LONE, "source_lang": "en", "target_lang": "de"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["result"] is None
    assert body["errors"][0]["code"] == 400 and "lone surrogate" in body["errors"][0]["message"]


def test_a_lone_surrogate_on_deeplx_is_a_deeplx_400(gateway):
    response = post_json(gateway, f"/translate?password={gateway.api_key}", {"text": LONE, "target_lang": "DE"},
                         headers={"Authorization": ""})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400 and "lone surrogate" in body["message"]


def test_a_lone_surrogate_on_deepl_is_a_deepl_400(gateway):
    response = post_json(gateway, "/v2/translate", {"text": [LONE], "target_lang": "DE"},
                         headers={"Authorization": f"DeepL-Auth-Key {gateway.api_key}"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"message"} and "lone surrogate" in body["message"]


@pytest.mark.parametrize("form", ["text=%ED%A0%80&target_lang=DE", "text=a%ED%B0%80b&target_lang=DE&source_lang=EN"])
def test_surrogate_bytes_in_deepls_form_are_no_500(gateway, form):
    # Percent-encoded UTF-8 of a surrogate is not UTF-8: it is decoded with replacement characters.
    response = httpx.post(f"{gateway.url}/v2/translate", content=form, timeout=60, headers={
        "Authorization": f"DeepL-Auth-Key {gateway.api_key}", "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    assert "\ufffd" in response.json()["translations"][0]["text"]


def test_an_emoji_sent_escaped_is_fine(gateway):
    body = json.dumps({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "smile \U0001f600"}]})
    assert "\\ud83d\\ude00" in body
    response = httpx.post(f"{gateway.url}/v1/chat/completions", content=body, timeout=60,
                          headers={"Authorization": f"Bearer {gateway.api_key}", "Content-Type": "application/json"})
    assert response.status_code == 200, response.text


# --- JSON complexity: values, not commas in strings --------------------------------------------------

def test_a_270_kb_csv_in_one_message_passes(gateway):
    # llama-4-scout: llama-3.1's contract takes at most 131 072 characters a message. 120 000
    # commas: over the 100 000 "values" the comma count allowed before.
    csv = "\n".join(",".join(str((row + col) % 10) for col in range(9)) for row in range(15_000))
    body = {"model": "@cf/meta/llama-4-scout-17b-16e-instruct", "messages": [{"role": "user", "content": csv}]}
    assert len(json.dumps(body)) > 270_000 and csv.count(",") == 120_000
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=60,
                          headers={"Authorization": f"Bearer {gateway.api_key}"})
    assert response.status_code == 200, response.text[:500]


def test_300_000_token_ids_pass_the_complexity_check(gateway):
    ids = [(i * 7919) % 90_000 + 1_000 for i in range(300_000)]  # within cl100k_base, 4-5 digits each
    body = {"model": "text-embedding-3-small", "input": ids}
    assert len(json.dumps(body, separators=(",", ":"))) < 2_097_152
    response = httpx.post(f"{gateway.url}/v1/embeddings", content=json.dumps(body, separators=(",", ":")), timeout=120,
                          headers={"Authorization": f"Bearer {gateway.api_key}", "Content-Type": "application/json"})
    assert response.status_code == 200, response.text[:500]


def test_empty_objects_beyond_the_cap_are_refused(gateway):
    body = '{"model":"%s","messages":[{"role":"user","content":"hi"}],"x":[%s]}' % (CHAT_MODEL, ",".join(["{}"] * 160_000))
    response = httpx.post(f"{gateway.url}/v1/chat/completions", content=body, timeout=60,
                          headers={"Authorization": f"Bearer {gateway.api_key}", "Content-Type": "application/json"})
    assert response.status_code == 400
    assert openai_error(response)["code"] == "json_too_complex"


# --- body limits ---------------------------------------------------------------------------------------

def _conversation(turns: int = 160) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}: " + "words and more words " * 25}
            for i in range(turns)]


def test_a_long_conversation_fits_responses_and_completions(gateway):
    conversation = _conversation()
    responses_body = {"model": CHAT_MODEL, "input": conversation, "max_output_tokens": 16}
    prompt = "\n".join(f"{m['role']}: {m['content']}" for m in conversation)
    completions_body = {"model": CHAT_MODEL, "prompt": prompt, "max_tokens": 16}
    assert len(json.dumps(responses_body)) > 86_000 and len(json.dumps(completions_body)) > 86_000
    headers = {"Authorization": f"Bearer {gateway.api_key}"}
    for path, body in (("/v1/responses", responses_body), ("/v1/completions", completions_body)):
        response = httpx.post(f"{gateway.url}{path}", json=body, headers=headers, timeout=60)
        assert response.status_code == 200, (path, response.text[:500])


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/completions"])
def test_over_16_mib_is_a_413_naming_the_limit(gateway, path):
    response = httpx.post(f"{gateway.url}{path}", content=b"{" + b" " * (16 * 1024 * 1024) + b"}", timeout=60,
                          headers={"Authorization": f"Bearer {gateway.api_key}", "Content-Type": "application/json"})
    assert response.status_code == 413
    error = openai_error(response)
    assert error["code"] == "request_too_large"
    assert error["message"] == ("The request body is 16777218 bytes; the limit here is 16777216 bytes (16 MB).")


# --- /translate: one credential per request --------------------------------------------------------------

def deeplx(gateway, query: str, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{gateway.url}/translate{query}", json={"text": "Hello", "source_lang": "EN", "target_lang": "DE"},
                      headers=headers or {}, timeout=30)


@pytest.mark.parametrize("query, headers", [
    ("?password=guess-1&token=guess-2&key=sk-test-key", {}),
    ("?password=sk-test-key&token=guess-2", {}),
    ("?key=guess-3", {"Authorization": "Bearer sk-test-key"}),
    ("?password=sk-test-key", {"Authorization": "DeepL-Auth-Key guess-4"}),
], ids=["three-queries", "two-queries", "header-and-key", "deepl-header-and-password"])
def test_several_different_secrets_are_refused_even_with_the_right_one(gateway, query, headers):
    response = deeplx(gateway, query, headers)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Different secrets were sent (in the Authorization header, "
                                                       "?password=, ?token= or ?key=): send the secret one way only."}


def test_the_same_secret_sent_two_ways_opens_translate(gateway):
    response = deeplx(gateway, "?password=sk-test-key&token=sk-test-key", {"Authorization": "Bearer sk-test-key"})
    assert response.status_code == 200, response.text


def test_deepl_does_not_try_a_header_and_an_auth_key_in_turn(gateway):
    form = urlencode({"text": "Hello", "target_lang": "DE"})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    mixed = httpx.post(f"{gateway.url}/v2/translate?auth_key=guess-1", content=form, timeout=30,
                       headers={**headers, "Authorization": f"DeepL-Auth-Key {gateway.api_key}"})
    assert mixed.status_code == 403
    alone = httpx.post(f"{gateway.url}/v2/translate?auth_key={gateway.api_key}", content=form, headers=headers, timeout=30)
    assert alone.status_code == 200, alone.text
