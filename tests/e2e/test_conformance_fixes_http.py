"""The conformance fixes through the worker in workerd (see tests/unit/test_conformance_fixes.py):
gpt-image-1 answers b64_json, speech streams OpenAI's SSE events, GET /v1/models/{name} knows every
name the endpoints accept, DeepL's routes answer with the statuses DeepL's description lists.

Model answers come from pytest-httpserver with bytes written here, so every expected value is a
literal of this file, never something the gateway computed.
"""

from __future__ import annotations

import base64
import json

import deepl
import httpx
import openai
import pytest
from werkzeug.wrappers import Response

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
AURA_AUDIO = b"ID3\x04\x00\x00" + bytes(range(256)) * 40  # 10 246 bytes, streamed as Aura streams
MELO_AUDIO = bytes(range(256)) * 100  # 25 600 bytes: 34 136 base64 characters, three deltas


def scripted_answer(request) -> Response:
    sent = json.loads(request.get_data())
    model = sent["model"]
    if "flux" in model:
        return Response(json.dumps({"image": base64.b64encode(JPEG).decode()}), content_type="application/json")
    if "aura" in model:
        return Response(AURA_AUDIO, content_type="audio/mpeg")
    if "melotts" in model:
        return Response(json.dumps({"audio": base64.b64encode(MELO_AUDIO).decode()}), content_type="application/json")
    return Response(json.dumps({"errors": [{"code": 5007, "message": "no such model"}]}), 400, content_type="application/json")


@pytest.fixture
def scripted(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_handler(scripted_answer)
    with httpx.Client(base_url=scripted_gateway.url, timeout=60,
                      headers={"Authorization": f"Bearer {scripted_gateway.api_key}"}) as client:
        yield client


def sse_events(text: str) -> list[dict]:
    return [json.loads(frame.removeprefix("data: ")) for frame in text.split("\n\n") if frame.startswith("data: ")]


# --- 1. images -----------------------------------------------------------------------------------------


def test_gpt_image_1_answers_b64_json_by_default(scripted):
    response = scripted.post("/v1/images/generations", json={"model": "gpt-image-1", "prompt": "a lighthouse"})
    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    assert "url" not in item and base64.b64decode(item["b64_json"]) == JPEG


def test_the_openai_client_gets_b64_json_for_gpt_image_1(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_handler(scripted_answer)
    client = openai.OpenAI(base_url=f"{scripted_gateway.url}/v1", api_key=scripted_gateway.api_key, max_retries=0)
    result = client.images.generate(model="gpt-image-1-mini", prompt="a lighthouse")
    assert result.data[0].url is None and base64.b64decode(result.data[0].b64_json) == JPEG


def test_gpt_image_1_refuses_response_format_as_openai_does(scripted):
    response = scripted.post("/v1/images/generations", json={"model": "gpt-image-1", "prompt": "p", "response_format": "url"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "response_format" and response.json()["error"]["code"] == "unknown_parameter"


def test_null_image_parameters_are_their_defaults(scripted):
    nulls = {"n": None, "size": None, "quality": None, "style": None, "user": None, "response_format": None}
    response = scripted.post("/v1/images/generations", json={"model": "dall-e-2", "prompt": "p", **nulls})
    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    assert httpx.get(item["url"]).content == JPEG


# --- 3. speech ------------------------------------------------------------------------------------------


def test_speech_sse_from_a_streaming_model(scripted):
    response = scripted.post("/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "input": "Hello there", "voice": "coral",
                                                       "stream_format": "sse"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert [e["type"] for e in events] == ["speech.audio.delta", "speech.audio.done"]
    assert base64.b64decode(events[0]["audio"]) == AURA_AUDIO
    # "Hello there": 11 characters at about four a token.
    assert events[1]["usage"] == {"input_tokens": 3, "output_tokens": 0, "total_tokens": 3}


def test_speech_sse_from_a_base64_model_comes_in_pieces(scripted):
    response = scripted.post("/v1/audio/speech", json={"model": "@cf/myshell-ai/melotts", "input": "x", "stream_format": "sse"})
    events = sse_events(response.text)
    deltas = [e["audio"] for e in events if e["type"] == "speech.audio.delta"]
    assert [len(d) for d in deltas] == [16384, 16384, 1368]
    assert b"".join(base64.b64decode(d, validate=True) for d in deltas) == MELO_AUDIO
    assert events[-1]["type"] == "speech.audio.done"


def test_speech_audio_stream_format_is_unchanged(scripted):
    for stream_format in ("audio", None):
        response = scripted.post("/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "input": "hi", "stream_format": stream_format})
        assert response.headers["content-type"] == "audio/mpeg" and response.content == AURA_AUDIO


@pytest.mark.parametrize("model, stream_format", [("gpt-4o-mini-tts", "events"), ("tts-1", "sse"), ("tts-1-hd", "sse")])
def test_other_stream_formats_and_sse_for_tts_1_are_a_400(scripted, model, stream_format):
    response = scripted.post("/v1/audio/speech", json={"model": model, "input": "hi", "stream_format": stream_format})
    assert response.status_code == 400 and response.json()["error"]["param"] == "stream_format"


# --- 6. GET /v1/models/{name} ---------------------------------------------------------------------------


def test_a_dated_openai_name_chat_accepts_is_retrievable(client, http, auth_headers):
    assert client.chat.completions.create(model="gpt-4o-2024-08-06", messages=[{"role": "user", "content": "hi"}]).choices
    model = client.models.retrieve("gpt-4o-2024-08-06")
    assert (model.id, model.object) == ("gpt-4o-2024-08-06", "model")
    assert isinstance(model.created, int) and model.owned_by == "meta"
    raw = http.get("/v1/models/gpt-4o-2024-08-06", headers=auth_headers).json()
    assert raw["root"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


@pytest.mark.parametrize("name", ["whisper-1", "llama-3.1-8b-instruct-fast", "o3-mini-2025-01-31", "gpt-image-1"])
def test_names_other_routes_accept_are_retrievable(http, auth_headers, name):
    response = http.get(f"/v1/models/{name}", headers=auth_headers)
    assert response.status_code == 200 and response.json()["id"] == name


def test_a_name_chat_refuses_is_still_a_404(client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="not-a-model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("not-a-model")


# --- 9. DeepL -------------------------------------------------------------------------------------------

# The statuses DeepL's description (openapi.yaml, translateText) lists for POST /v2/translate.
DEEPL_TRANSLATE_STATUSES = {400, 403, 404, 413, 414, 429, 456, 500, 504, 529}


def failing(ai_status: int, ai_code: int):
    body = {"success": False, "errors": [{"code": ai_code, "message": "scripted failure"}]}
    return Response(json.dumps(body), ai_status, content_type="application/json")


@pytest.mark.parametrize("ai_status, ai_code, status, text", [
    (500, 3000, 500, "Ein Satz für den Fehler."),
    (500, 3007, 504, "Ein Satz für die Zeitüberschreitung."),
    (429, 3040, 529, "Ein Satz für die Auslastung."),
    (429, 3036, 456, "Ein Satz für das Kontingent."),
])
def test_deepl_translate_failures_have_deepls_statuses(scripted_gateway, httpserver, ai_status, ai_code, status, text):
    httpserver.expect_request("/ai/run", method="POST").respond_with_response(failing(ai_status, ai_code))
    response = httpx.post(f"{scripted_gateway.url}/v2/translate", timeout=30,
                          headers={"Authorization": f"DeepL-Auth-Key {scripted_gateway.api_key}"},
                          json={"text": [text], "source_lang": "DE", "target_lang": "EN-US"})
    assert response.status_code == status and status in DEEPL_TRANSLATE_STATUSES
    assert set(response.json()) == {"message"}
    if status == 529:
        assert response.headers["retry-after"] == "5"


def test_the_deepl_library_sees_a_failed_model_as_deepls_500(scripted_gateway, httpserver, monkeypatch):
    monkeypatch.setattr(deepl.http_client, "max_network_retries", 0)  # it retries every 5xx: one try is enough here
    httpserver.expect_request("/ai/run", method="POST").respond_with_response(failing(500, 3000))
    translator = deepl.Translator(scripted_gateway.api_key, server_url=scripted_gateway.url)
    with pytest.raises(deepl.DeepLException) as raised:
        translator.translate_text("Noch ein Satz für den Fehler.", source_lang="DE", target_lang="EN-US")
    assert raised.value.http_status_code == 500


UNSUPPORTED = [
    ("POST", "/v2/document"),
    ("POST", "/v2/document/D1"), ("POST", "/v2/document/D1/result"), ("POST", "/v2/write/rephrase"), ("POST", "/v2/write/correct"),
]
# Write's operations list no 404 in DeepL's description: 403 ForbiddenScoped there.
STATUS = {"/v2/write/rephrase": 403, "/v2/write/correct": 403}


@pytest.mark.parametrize("method, path", UNSUPPORTED)
def test_deepls_other_features_are_a_404_in_deepls_envelope(gateway, method, path):
    response = httpx.request(method, f"{gateway.url}{path}", headers={"Authorization": f"DeepL-Auth-Key {gateway.api_key}"})
    assert response.status_code == STATUS.get(path, 404)
    assert set(response.json()) == {"message"} and "does not implement" in response.json()["message"]


def test_the_deepl_library_reads_the_gateways_words(gateway):
    translator = deepl.Translator(gateway.api_key, server_url=gateway.url)
    with pytest.raises(deepl.DeepLException, match="does not implement DeepL document translation"):
        translator.translate_document_upload(b"Hello", source_lang="EN", target_lang="DE", filename="a.txt")
