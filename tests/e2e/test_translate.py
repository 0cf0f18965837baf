"""Translation through the worker: DeepLX /translate, DeepL /v2/translate, the batch shape, the REST shape."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from support.local_gateway import LocalGateway

TRANSLATE_SECRET = "tr-secret-123"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "language_sample.tsv"


@pytest.fixture(scope="module")
def secured():
    """A gateway with a separate translate secret: only it opens /translate."""
    local = LocalGateway(api_keys="sk-test-key", extra_env={"TRANSLATE_PASSWORD": TRANSLATE_SECRET})
    yield local
    local.stop()


def deeplx(base_url: str, body: dict, query: str = "", headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{base_url}/translate{query}", json=body, headers=headers or {}, timeout=30)


# --- auth -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "query, headers",
    [
        (f"?password={TRANSLATE_SECRET}", {}),
        (f"?token={TRANSLATE_SECRET}", {}),
        ("", {"Authorization": f"Bearer {TRANSLATE_SECRET}"}),
        ("", {"Authorization": f"DeepL-Auth-Key {TRANSLATE_SECRET}"}),
    ],
    ids=["password", "token", "bearer", "deepl-auth-key"],
)
def test_each_credential_form_opens_translate(secured, query, headers):
    response = deeplx(secured.url, {"text": "Hello", "source_lang": "EN", "target_lang": "DE"}, query, headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == "[en->de] Hello"


@pytest.mark.parametrize(
    "query, headers",
    [
        ("?password=wrong", {}),
        ("?token=wrong", {}),
        ("", {"Authorization": "Bearer wrong"}),
        ("", {"Authorization": "DeepL-Auth-Key wrong"}),
        # With a separate translate secret, the API keys do not open /translate.
        ("?password=sk-test-key", {}),
    ],
    ids=["password", "token", "bearer", "deepl-auth-key", "api-key-instead"],
)
def test_a_wrong_secret_is_a_deeplx_401(secured, query, headers):
    response = deeplx(secured.url, {"text": "Hello", "target_lang": "DE"}, query, headers)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Incorrect translate secret provided."}


def test_a_missing_secret_is_a_deeplx_401_that_says_how(secured):
    response = deeplx(secured.url, {"text": "Hello", "target_lang": "DE"})
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == 401 and "?password=" in body["message"]


def test_without_a_translate_secret_any_api_key_opens_translate(gateway):
    for key in ("sk-test-key", "sk-second-key"):
        response = deeplx(gateway.url, {"text": "Hi", "source_lang": "EN", "target_lang": "FR"}, f"?password={key}")
        assert response.status_code == 200
    assert deeplx(gateway.url, {"text": "Hi", "target_lang": "FR"}, "?password=nope").status_code == 401


def test_the_translate_secret_does_not_open_the_openai_api(secured):
    response = httpx.get(f"{secured.url}/v1/models", headers={"Authorization": f"Bearer {TRANSLATE_SECRET}"})
    assert response.status_code == 401


# --- DeepLX format ------------------------------------------------------------------------------------

def test_deeplx_success_shape(gateway):
    response = deeplx(gateway.url, {"text": "Hello world", "source_lang": "en", "target_lang": "ZH"}, "?password=sk-test-key")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 200 and body["data"] == "[en->zh] Hello world"
    assert isinstance(body["id"], int)
    assert body["alternatives"] == [] and body["method"] == "Free"
    assert body["source_lang"] == "EN" and body["target_lang"] == "ZH"
    assert response.headers["x-model"] == "@cf/meta/m2m100-1.2b"


@pytest.mark.parametrize(
    "target, m2m100",
    [("ZH-HANT", "zh"), ("zh-hans", "zh"), ("PT-BR", "pt"), ("pt-pt", "pt"), ("EN-GB", "en"), ("EN-US", "en"), ("NB", "no"), ("uk", "uk")],
)
def test_deepl_codes_are_mapped_for_m2m100(gateway, target, m2m100):
    response = deeplx(gateway.url, {"text": "Bonjour", "source_lang": "FR", "target_lang": target}, "?password=sk-test-key")
    assert response.status_code == 200
    assert response.json()["data"] == f"[fr->{m2m100}] Bonjour"
    assert response.json()["target_lang"] == target


def test_multi_line_text_keeps_its_lines(gateway):
    text = "First line\n\n  Second line\r\nThird"
    response = deeplx(gateway.url, {"text": text, "source_lang": "EN", "target_lang": "DE"}, "?password=sk-test-key")
    assert response.json()["data"] == "[en->de] First line\n\n  [en->de] Second line\r\n[en->de] Third"


def test_html_tags_stay_out_of_the_model(gateway):
    body = {"text": "<p>Hello <b>world</b></p>", "source_lang": "EN", "target_lang": "DE", "tag_handling": "html"}
    response = deeplx(gateway.url, body, "?password=sk-test-key")
    # The sentence goes to the model whole ("Hello world"); the element lands on the same relative words.
    assert response.json()["data"] == "<p>[en-&gt;de] Hello <b>world</b></p>"


def test_same_source_and_target_returns_the_text_untouched(gateway):
    response = deeplx(gateway.url, {"text": "Guten Tag\nWelt", "source_lang": "DE", "target_lang": "de"}, "?password=sk-test-key")
    assert response.json()["data"] == "Guten Tag\nWelt"


def _sample_by_language() -> dict[str, str]:
    first: dict[str, str] = {}
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            first.setdefault(lang, text)
    return first


@pytest.mark.parametrize("source", [None, "", "auto", "AUTO"], ids=["missing", "empty", "auto", "AUTO"])
def test_auto_source_is_detected_before_m2m100_runs(gateway, source):
    body = {"text": "Ich lese abends gern Bücher, wenn alles still ist.", "target_lang": "EN"}
    if source is not None:
        body["source_lang"] = source
    response = deeplx(gateway.url, body, "?password=sk-test-key")
    assert response.json()["source_lang"] == "DE"
    assert response.json()["data"].startswith("[de->en] ")


def test_detection_on_texts_in_many_languages(gateway):
    # One call per text, 12 scripts and Latin languages: what the model was told is the detected source.
    expected = {lang: text for lang, text in _sample_by_language().items()
                if lang in {"ja", "ko", "zh", "ru", "uk", "ar", "he", "th", "el", "hi", "fr", "es", "pl", "tr", "vi", "sv"}}
    assert len(expected) == 16
    for lang, text in expected.items():
        target = "EN" if lang != "en" else "DE"
        response = deeplx(gateway.url, {"text": text, "source_lang": "auto", "target_lang": target}, "?password=sk-test-key")
        body = response.json()
        deepl = "NB" if lang == "no" else lang.upper()
        assert body["source_lang"] == deepl, (lang, text, body)
        assert body["data"] == f"[{lang}->en] {text}"


def test_immersive_translate_batch_shape(gateway):
    body = {"source_lang": "auto", "target_lang": "EN", "text_list": ["Bonjour le monde", "Hola, ¿cómo estás hoy?", "Already English text", "Bonjour le monde"]}
    response = deeplx(gateway.url, body, "?password=sk-test-key")
    assert response.status_code == 200
    assert response.json() == {
        "translations": [
            {"detected_source_lang": "FR", "text": "[fr->en] Bonjour le monde"},
            {"detected_source_lang": "ES", "text": "[es->en] Hola, ¿cómo estás hoy?"},
            {"detected_source_lang": "EN", "text": "Already English text"},
            {"detected_source_lang": "FR", "text": "[fr->en] Bonjour le monde"},
        ]
    }


@pytest.mark.parametrize(
    "body, status, needle",
    [
        ({"target_lang": "DE"}, 400, "`text`"),
        ({"text": "Hi"}, 400, "`target_lang`"),
        ({"text": "Hi", "target_lang": "XX"}, 400, "Unsupported language 'XX'"),
        ({"text": "Hi", "source_lang": "KLINGON", "target_lang": "DE"}, 400, "Unsupported language 'KLINGON'"),
        ({"text": 5, "target_lang": "DE"}, 400, "`text`"),
        ({"text_list": [], "target_lang": "DE"}, 400, "`text`"),
        ({"text": "Hi", "target_lang": "DE", "model": "@cf/baai/bge-m3"}, 400, "embeddings model"),
    ],
)
def test_bad_requests_get_deeplx_errors(gateway, body, status, needle):
    response = deeplx(gateway.url, body, "?password=sk-test-key")
    assert response.status_code == status
    payload = response.json()
    assert set(payload) == {"code", "message"} and payload["code"] == status
    assert needle in payload["message"]


def test_malformed_json_and_wrong_method_get_deeplx_errors(gateway):
    bad = httpx.post(f"{gateway.url}/translate?password=sk-test-key", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["code"] == 400
    wrong = httpx.get(f"{gateway.url}/translate?password=sk-test-key")
    assert wrong.status_code == 405 and wrong.json()["code"] == 405
    assert "POST" in wrong.headers["allow"]


# --- DeepL /v2/translate ------------------------------------------------------------------------

def test_deepl_v2_form_with_repeated_text(gateway):
    response = httpx.post(
        f"{gateway.url}/v2/translate",
        data={"text": ["Hallo Welt", "Wie geht es dir heute?"], "target_lang": "EN-GB"},
        headers={"Authorization": "DeepL-Auth-Key sk-test-key"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "translations": [
            {"detected_source_language": "DE", "text": "[de->en] Hallo Welt", "billed_characters": 10},
            {"detected_source_language": "DE", "text": "[de->en] Wie geht es dir heute?", "billed_characters": 22},
        ]
    }


def test_deepl_v2_json_with_a_text_array(gateway):
    response = httpx.post(
        f"{gateway.url}/v2/translate",
        json={"text": ["Hello", "Good morning"], "source_lang": "EN", "target_lang": "PT-BR"},
        headers={"Authorization": "DeepL-Auth-Key sk-test-key"},
    )
    assert [t["text"] for t in response.json()["translations"]] == ["[en->pt] Hello", "[en->pt] Good morning"]


def test_deepl_v2_errors_use_deepls_envelope(gateway):
    unauthorized = httpx.post(f"{gateway.url}/v2/translate", data={"text": "Hi", "target_lang": "DE"})
    # DeepL answers 403 for a missing or wrong key (its clients raise their authorization error for it).
    assert unauthorized.status_code == 403 and set(unauthorized.json()) == {"message"}
    missing = httpx.post(f"{gateway.url}/v2/translate", data={"target_lang": "DE"}, headers={"Authorization": "DeepL-Auth-Key sk-test-key"})
    assert missing.status_code == 400 and "`text`" in missing.json()["message"]


# --- Workers AI REST shape --------------------------------------------------------------------------

def test_the_guides_rest_shape_still_works(gateway, auth_headers):
    response = httpx.post(
        f"{gateway.url}/ai/run/@cf/meta/m2m100-1.2b",
        json={"text": "Hello", "source_lang": "english", "target_lang": "french"},
        headers=auth_headers,
    )
    assert response.status_code == 200
    assert response.json() == {"result": {"translated_text": "[en->fr] Hello"}, "success": True, "errors": [], "messages": []}
    unknown = httpx.post(
        f"{gateway.url}/ai/run/@cf/meta/m2m100-1.2b", json={"text": "Hello", "target_lang": "elvish"}, headers=auth_headers
    )
    assert unknown.status_code == 400
    assert unknown.json()["success"] is False and "elvish" in unknown.json()["errors"][0]["message"]
    assert httpx.post(f"{gateway.url}/ai/run/@cf/meta/m2m100-1.2b", json={"text": "x", "target_lang": "fr"}).status_code == 401


# --- scripted model: call count, failures ------------------------------------------------------------

def _echo_translation(request):
    from werkzeug.wrappers import Response

    inputs = json.loads(request.get_data())["inputs"]
    return Response(json.dumps({"translated_text": inputs["text"].upper()}), content_type="application/json")


def test_repeated_segments_are_translated_once(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_handler(_echo_translation)
    texts = ["one\ntwo", "two", "one", "three\n\nthree"]
    response = deeplx(scripted_gateway.url, {"source_lang": "EN", "target_lang": "DE", "text_list": texts}, "?password=sk-test-key")
    assert [t["text"] for t in response.json()["translations"]] == ["ONE\nTWO", "TWO", "ONE", "THREE\n\nTHREE"]
    sent = sorted(json.loads(entry[0].get_data())["inputs"]["text"] for entry in httpserver.log)
    assert sent == ["one", "three", "two"]


@pytest.mark.parametrize(
    "ai_status, ai_code, status",
    [(500, 3000, 503), (429, 3040, 429), (400, 5006, 400)],
)
def test_model_failures_get_deeplx_errors(scripted_gateway, httpserver, ai_status, ai_code, status):
    from werkzeug.wrappers import Response

    error = {"success": False, "errors": [{"code": ai_code, "message": "scripted failure"}]}
    httpserver.expect_request("/ai/run", method="POST").respond_with_response(
        Response(json.dumps(error), ai_status, content_type="application/json")
    )
    response = deeplx(scripted_gateway.url, {"text": "Hello", "source_lang": "EN", "target_lang": "DE"}, "?password=sk-test-key")
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == status
    if status == 429:
        assert response.headers["retry-after"] == "5"


def test_an_answer_without_translated_text_is_a_503(scripted_gateway, httpserver):
    httpserver.expect_request("/ai/run", method="POST").respond_with_json({"unexpected": True})
    response = deeplx(scripted_gateway.url, {"text": "Hello", "source_lang": "EN", "target_lang": "DE"}, "?password=sk-test-key")
    assert response.status_code == 503 and response.json()["code"] == 503
