"""Deviations from OpenAI's and DeepL's own API descriptions, fixed: each expectation is the vendor's
documented behaviour, written out here by hand (never computed with the gateway's code).

- images: OpenAI's GPT image models (gpt-image-1*) answer only `b64_json` and refuse `response_format`;
  the request's nullable parameters (`n`, `size`, `quality`, `style`, `user`, `response_format`) mean
  the default when null;
- speech: `stream_format: "sse"` is OpenAI's event stream (`speech.audio.delta` with base64 audio,
  then `speech.audio.done` with usage), refused for tts-1 / tts-1-hd as OpenAI refuses it;
- models: every name an endpoint accepts is retrievable at GET /v1/models/{name};
- DeepL: failures carry the statuses DeepL's description lists for /v2/translate (no 503), and its
  other features answer 404 in DeepL's envelope.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from fakes import FakeAi, SqliteDatabase, make_platform, make_request, run
from gateway import app, audio, images, ledger, live_catalog
from gateway.catalog import BY_ID
from gateway.endpoints import deepl as deepl_endpoints
from gateway.errors import ApiError, UpstreamError
from gateway.http import Response, StreamResponse
from gateway.platform import BytesBlob
from gateway.routing import Router

KEY = "sk-unit"
FLUX = BY_ID["@cf/black-forest-labs/flux-1-schnell"]
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 3
MP3 = b"ID3\x04\x00" + bytes(range(200))


@pytest.fixture(autouse=True)
def fresh_isolate():
    ledger.reset()
    live_catalog.reset()
    yield
    ledger.reset()
    live_catalog.reset()


class FakeStream:
    """A model's byte stream kept in the runtime (Aura's audio): handed on, or buffered whole."""

    def __init__(self, data: bytes):
        self.data = data
        self.handle = object()

    async def __aiter__(self):
        yield self.data

    async def buffer(self, max_bytes):
        return BytesBlob(self.data) if len(self.data) <= max_bytes else None


def answer(model, inputs):
    if "flux" in model:
        return {"image": base64.b64encode(JPEG).decode()}
    if "melotts" in model:
        return {"audio": base64.b64encode(MP3).decode()}
    if "aura" in model:
        return FakeStream(MP3)
    if "m2m100" in model:
        return {"translated_text": "übersetzt"}
    return {"response": "ok", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}


def send(method, path, body=None, *, result=answer, error=None, headers=None, **settings):
    async def go():
        settings.setdefault("api_keys", (KEY,))
        platform = make_platform(FakeAi(result, error), **settings)
        platform.database = SqliteDatabase()
        platform.defer = lambda coro: asyncio.ensure_future(coro)
        request = make_request(method, path, body=body, headers={
            "authorization": f"Bearer {KEY}", **({"content-type": "application/json"} if body is not None else {}),
            **(headers or {})})
        response = await app.handle(request, platform)
        if isinstance(response, StreamResponse):
            parts = [part async for part in response.chunks]
            response = Response(response.status, "".join(parts), response.headers)
        return response

    return run(go())


def body_of(response):
    return json.loads(response.body)


def events_of(response) -> list[dict]:
    text = response.body
    assert text.endswith("\n\n")
    return [json.loads(frame.removeprefix("data: ")) for frame in text.split("\n\n") if frame]


# --- 1. images: the GPT image models answer b64_json ---------------------------------------------------


@pytest.mark.parametrize("name", ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-1-2025-04-23"])
def test_gpt_image_models_answer_b64_json_without_being_asked(name):
    response = send("POST", "/v1/images/generations", {"model": name, "prompt": "a lighthouse"})
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    data = body_of(response)["data"]
    assert len(data) == 1 and "url" not in data[0]
    assert base64.b64decode(data[0]["b64_json"]) == JPEG


@pytest.mark.parametrize("response_format", ["url", "b64_json"])
def test_gpt_image_models_refuse_response_format_as_openai_does(response_format):
    response = send("POST", "/v1/images/generations", {"model": "gpt-image-1", "prompt": "p", "response_format": response_format})
    assert response.status == 400
    assert body_of(response)["error"] == {"message": "Unknown parameter: 'response_format'.", "type": "invalid_request_error",
                                          "param": "response_format", "code": "unknown_parameter"}


def test_the_family_is_matched_at_a_name_boundary_only():
    assert images.answers_base64_only("gpt-image-1") and images.answers_base64_only("gpt-image-1.5")
    assert not images.answers_base64_only("gpt-image-10")
    assert not images.answers_base64_only("dall-e-3") and not images.answers_base64_only(None)


def test_dall_e_keeps_url_as_its_default():
    _, n, response_format = images.from_images_api({"prompt": "p"}, FLUX, "dall-e-3")
    assert (n, response_format) == (1, "url")


NULLS = {"n": None, "size": None, "quality": None, "style": None, "user": None, "response_format": None}


def test_null_image_parameters_are_their_defaults():
    job, n, response_format = images.from_images_api({"prompt": "p", **NULLS}, FLUX, "dall-e-2")
    assert (n, response_format) == (1, "url") and job.prompt == "p"
    response = send("POST", "/v1/images/generations", {"model": "gpt-image-1", "prompt": "p", **NULLS})
    assert response.status == 200 and len(body_of(response)["data"]) == 1


def test_null_n_with_b64_json_makes_one_image():
    response = send("POST", "/v1/images/generations",
                    {"model": "dall-e-3", "prompt": "p", "n": None, "response_format": "b64_json"})
    assert response.status == 200
    assert [base64.b64decode(item["b64_json"]) for item in body_of(response)["data"]] == [JPEG]


# --- 3. speech: stream_format -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["@cf/myshell-ai/melotts", "gpt-4o-mini-tts"])
def test_speech_sse_is_openais_event_stream(model):
    response = send("POST", "/v1/audio/speech", {"model": model, "input": "Hello there", "voice": "alloy", "stream_format": "sse"})
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    events = events_of(response)
    deltas, done = events[:-1], events[-1]
    assert deltas and all(set(e) == {"type", "audio"} and e["type"] == "speech.audio.delta" for e in deltas)
    assert b"".join(base64.b64decode(e["audio"]) for e in deltas) == MP3
    # "Hello there": 11 characters, about four a token → 3 input tokens; no audio token count exists.
    assert done == {"type": "speech.audio.done", "usage": {"input_tokens": 3, "output_tokens": 0, "total_tokens": 3}}


def test_long_base64_audio_is_split_into_deltas_that_each_decode():
    long_audio = bytes(range(256)) * 100  # 25 600 bytes: 34 136 base64 characters, three 16 384-character pieces
    response = send("POST", "/v1/audio/speech", {"model": "@cf/myshell-ai/melotts", "input": "x", "stream_format": "sse"},
                    result=lambda m, i: {"audio": base64.b64encode(long_audio).decode()})
    deltas = events_of(response)[:-1]
    assert [len(e["audio"]) for e in deltas] == [16384, 16384, 1368]
    assert b"".join(base64.b64decode(e["audio"], validate=True) for e in deltas) == long_audio


@pytest.mark.parametrize("stream_format", [None, "audio"])
def test_speech_audio_stream_format_is_the_audio_file(stream_format):
    response = send("POST", "/v1/audio/speech", {"model": "tts-1", "input": "hi", "stream_format": stream_format})
    assert response.status == 200 and response.headers["Content-Type"] == "audio/mpeg" and response.body == MP3


@pytest.mark.parametrize("stream_format", ["SSE", "events", 1, True, ""])
def test_other_stream_formats_are_a_400_naming_it(stream_format):
    response = send("POST", "/v1/audio/speech", {"model": "gpt-4o-mini-tts", "input": "hi", "stream_format": stream_format})
    assert response.status == 400 and body_of(response)["error"]["param"] == "stream_format"


@pytest.mark.parametrize("model", ["tts-1", "tts-1-hd", "tts-1-1106"])
def test_sse_is_refused_for_tts_1_as_openai_refuses_it(model):
    response = send("POST", "/v1/audio/speech", {"model": model, "input": "hi", "stream_format": "sse"})
    assert response.status == 400 and body_of(response)["error"]["param"] == "stream_format"


def test_a_speech_stream_with_bad_base64_is_a_502_before_any_event():
    response = send("POST", "/v1/audio/speech", {"model": "@cf/myshell-ai/melotts", "input": "x", "stream_format": "sse"},
                    result=lambda m, i: {"audio": "not base64!"})
    assert response.status == 502 and body_of(response)["error"]["type"] == "server_error"


def test_parse_speech_reads_stream_format():
    melotts = BY_ID["@cf/myshell-ai/melotts"]
    assert audio.parse_speech({"input": "x"}, melotts).stream_format == "audio"
    assert audio.parse_speech({"input": "x", "stream_format": "sse"}, melotts, "@cf/myshell-ai/melotts").stream_format == "sse"


# --- 6. GET /v1/models/{name}: every name the endpoints accept ---------------------------------------------

# Name → the model the catalog's table (catalog.py) says answers for it, written out by hand.
ACCEPTED = {
    "gpt-4o-2024-08-06": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",  # dated: its family gpt-4o
    "o3-mini-2025-01-31": "@cf/openai/gpt-oss-20b",
    "gpt-5.1": "@cf/openai/gpt-oss-120b",
    "gpt-4o": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",  # an alias
    "llama-3.1-8b-instruct-fast": "@cf/meta/llama-3.1-8b-instruct-fast",  # an id without its prefix
    "@cf/meta/llama-2-7b-chat-int8": "@cf/meta/llama-3.1-8b-instruct-fast",  # retired, redirected
    "gpt-image-1-mini": "@cf/black-forest-labs/flux-1-schnell",
    "whisper-1": "@cf/openai/whisper-large-v3-turbo",  # not a chat model: the transcription routes take it
    "text-embedding-3-large-2024": "@cf/baai/bge-large-en-v1.5",
}


@pytest.mark.parametrize("name, model_id", ACCEPTED.items())
def test_an_accepted_name_is_a_model_object_with_the_requested_id(name, model_id):
    response = send("GET", f"/v1/models/{name}")
    assert response.status == 200, response.body
    found = body_of(response)
    assert found["id"] == name and found["object"] == "model" and found["root"] == model_id
    assert isinstance(found["created"], int) and isinstance(found["owned_by"], str) and found["owned_by"]


@pytest.mark.parametrize("name", ["gpt-4o-2024-08-06", "gpt-5.1", "llama-3.1-8b-instruct-fast"])
def test_what_chat_accepts_is_retrievable(name):
    chat = send("POST", "/v1/chat/completions", {"model": name, "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status == 200
    assert send("GET", f"/v1/models/{name}").status == 200


@pytest.mark.parametrize("name", ["not-a-model", "gpt-9", "@cf/nobody/unknown-model"])
def test_what_no_endpoint_knows_is_still_a_404(name):
    response = send("GET", f"/v1/models/{name}")
    assert response.status == 404 and body_of(response)["error"]["code"] == "model_not_found"


def test_a_retired_model_with_redirection_off_is_a_404():
    response = send("GET", "/v1/models/@cf/meta/llama-2-7b-chat-int8", redirect_retired_models=False)
    assert response.status == 404 and body_of(response)["error"]["code"] == "model_retired"


# --- 9. DeepL ---------------------------------------------------------------------------------------------

# The statuses DeepL's description (openapi.yaml, operation translateText) lists for /v2/translate.
DEEPL_TRANSLATE_STATUSES = {400, 403, 404, 413, 414, 429, 456, 500, 504, 529}
DEEPL_HEADERS = {"authorization": f"DeepL-Auth-Key {KEY}"}
TRANSLATE = {"text": ["Guten Tag"], "source_lang": "DE", "target_lang": "EN-US"}


@pytest.mark.parametrize("error, status", [
    (UpstreamError("3000: internal failure", 3000), 500),  # the model failed
    (UpstreamError("InferenceUpstreamError: no code"), 500),
    (UpstreamError("3007: timed out", 3007), 504),  # Workers AI's timeout
    (asyncio.TimeoutError(), 504),  # the gateway's own AI_TIMEOUT_SECONDS
    (UpstreamError("3040: out of capacity", 3040), 529),  # DeepL's "too many requests" under high load
    (UpstreamError("3016: rate limited", 3016), 429),
])
def test_deepl_translate_failures_have_the_statuses_deepl_lists(error, status):
    response = send("POST", "/v2/translate", TRANSLATE, error=error, headers=DEEPL_HEADERS)
    assert response.status == status and status in DEEPL_TRANSLATE_STATUSES
    assert set(body_of(response)) == {"message"}


def test_a_capacity_529_keeps_its_retry_after():
    response = send("POST", "/v2/translate", TRANSLATE, error=UpstreamError("3040: busy", 3040), headers=DEEPL_HEADERS)
    assert response.status == 529 and response.headers["Retry-After"] == "5"


def test_quota_refusals_are_deepls_456():
    used_up = send("POST", "/v2/translate", TRANSLATE, error=UpstreamError("3036: allocation", 3036), headers=DEEPL_HEADERS)
    budget = send("POST", "/v2/translate", TRANSLATE, headers=DEEPL_HEADERS, key_budgets={"*": 0.0})
    for response in (used_up, budget):
        assert response.status == 456 and set(body_of(response)) == {"message"}


def test_deeplx_keeps_its_503():
    response = send("POST", "/translate", {"text": "Guten Tag", "source_lang": "DE", "target_lang": "EN"},
                    error=UpstreamError("3000: internal failure", 3000))
    assert response.status == 503 and body_of(response)["code"] == 503


# Every path and method of DeepL's description the gateway does not implement (its `paths`, /v2 only).
UNSUPPORTED = [
    ("POST", "/v2/document"), ("POST", "/v2/document/04DE5AD98A02647D83285A36021911C6"),
    ("POST", "/v2/document/04DE5AD98A02647D83285A36021911C6/result"),
    ("POST", "/v2/write/rephrase"), ("POST", "/v2/write/correct"),
]
# Write's operations list no 404 in DeepL's description: 403 ForbiddenScoped there.
STATUS = {"/v2/write/rephrase": 403, "/v2/write/correct": 403}


@pytest.mark.parametrize("method, path", UNSUPPORTED)
def test_deepls_other_features_are_a_404_in_deepls_envelope(method, path):
    response = send(method, path, headers=DEEPL_HEADERS)
    assert response.status == STATUS.get(path, 404)
    assert set(body_of(response)) == {"message"} and "does not implement" in body_of(response)["message"]


@pytest.mark.parametrize("method, path", UNSUPPORTED[:3])
def test_they_need_the_deepl_secret_as_deepl_does(method, path):
    response = send(method, path, headers={"authorization": "DeepL-Auth-Key wrong"})
    assert response.status == 403 and set(body_of(response)) == {"message"}


def test_another_method_there_is_a_405_in_deepls_envelope():
    response = send("PUT", "/v2/glossaries", headers=DEEPL_HEADERS)
    assert response.status == 405 and set(body_of(response)) == {"message"}


def test_what_the_deepl_library_raises_for_that_answer():
    deepl = pytest.importorskip("deepl")
    message = {"message": "This gateway does not implement DeepL glossaries."}
    translator = deepl.Translator("k", server_url="http://127.0.0.1:9")
    with pytest.raises(deepl.GlossaryNotFoundException, match="does not implement"):
        translator._raise_for_status(404, json.dumps(message), message, glossary=True)
    with pytest.raises(deepl.DeepLException, match="Not found, message: This gateway") as plain:
        translator._raise_for_status(404, json.dumps(message), message)
    assert not isinstance(plain.value, deepl.GlossaryNotFoundException) and plain.value.http_status_code == 404


def test_the_unsupported_handler_alone():
    refuse = deepl_endpoints.not_implemented("glossaries", 404)
    with pytest.raises(ApiError) as raised:
        run(refuse(None, glossary_id="x"))
    assert raised.value.status == 404 and "glossaries" in raised.value.message
