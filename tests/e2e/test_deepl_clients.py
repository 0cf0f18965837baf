"""The official DeepL clients against the worker: Python `deepl` (PyPI) and Node `deepl-node` (npm).

Both take a `server_url`, send `Authorization: DeepL-Auth-Key <secret>`, and parse DeepL's
own answers: `billed_characters`, `/v2/usage`, `/v2/languages`, 403 for a wrong key.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import deepl
import httpx
import pytest
from werkzeug.wrappers import Response

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = Path(__file__).with_name("clients") / "deepl_node_client.mjs"

# A tiny "model" for the scripted upstream: whole sentences and their parts, so the test can tell a
# sentence translated whole (tags re-placed) from one translated piece by piece.
DICTIONARY = {
    "Good morning": "Guten Morgen",
    "morning": "Morgen",
    "Press the red button now.": "Drücken Sie jetzt den roten Knopf.",
    "red button": "roten Knopf",
    "Hello": "Hallo",
}


@pytest.fixture
def translator(gateway):
    return deepl.Translator(gateway.api_key, server_url=gateway.url)


def test_python_deepl_translates_with_billed_characters(translator):
    result = translator.translate_text("Hello, world!", target_lang="DE")
    assert result.text == "[en->de] Hello, world!"
    assert result.billed_characters == 13
    assert result.detected_source_lang == "EN"
    results = translator.translate_text(["Guten Morgen", "Danke"], source_lang="DE", target_lang="EN-US")
    assert [r.text for r in results] == ["[de->en] Guten Morgen", "[de->en] Danke"]
    assert [r.billed_characters for r in results] == [12, 5]


def test_python_deepl_usage_counts_this_months_characters_of_this_secret(gateway):
    # The second key is used by no other test, so its count is this test's alone.
    translator = deepl.Translator("sk-second-key", server_url=gateway.url)
    before = translator.get_usage()
    # No DEEPL_CHARACTER_LIMIT: DeepL's figure for a Pro account without cost control, i.e. no limit.
    assert before.character.limit == 1_000_000_000_000 and before.character.valid
    translator.translate_text(["abc", "defgh"], target_lang="DE", source_lang="EN")
    httpx.post(f"{gateway.url}/translate?password=sk-second-key", json={"text": "1234567", "source_lang": "EN", "target_lang": "DE"})
    # Each request is written just after its answer: the count catches up within moments.
    deadline = time.monotonic() + 10
    while (after := translator.get_usage()).character.count - before.character.count < 15 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert after.character.count - before.character.count == 3 + 5 + 7
    assert not after.any_limit_reached


def test_python_deepl_language_lists(translator):
    source = {lang.code: lang.name for lang in translator.get_source_languages()}
    target = {lang.code: lang for lang in translator.get_target_languages()}
    assert len(source) == 33 and source["DE"] == "German" and source["ZH"] == "Chinese"
    assert {"EN-GB", "EN-US", "PT-BR", "PT-PT", "ZH-HANS", "ZH-HANT", "ZH", "DE"} <= set(target)
    assert "EN" not in target and "PT" not in target
    # m2m100 has no formality control, and the list says so.
    assert all(lang.supports_formality is False for lang in target.values())


def test_python_deepl_wrong_key_is_its_authorization_error(gateway):
    bad = deepl.Translator("not-the-key", server_url=gateway.url)
    with pytest.raises(deepl.AuthorizationException):
        bad.translate_text("Hi", target_lang="DE")
    with pytest.raises(deepl.AuthorizationException):
        bad.get_usage()
    response = httpx.post(f"{gateway.url}/v2/translate", data={"text": "Hi", "target_lang": "DE"})
    assert response.status_code == 403 and set(response.json()) == {"message"}


def test_legacy_auth_key_field_and_query(gateway):
    form = httpx.post(f"{gateway.url}/v2/translate", data={"auth_key": gateway.api_key, "text": "Hi", "target_lang": "DE"})
    assert form.status_code == 200 and form.json()["translations"][0]["text"] == "[en->de] Hi"
    query = httpx.get(f"{gateway.url}/v2/usage", params={"auth_key": gateway.api_key})
    assert query.status_code == 200 and set(query.json()) == {"character_count", "character_limit"}
    wrong = httpx.post(f"{gateway.url}/v2/translate", data={"auth_key": "nope", "text": "Hi", "target_lang": "DE"})
    assert wrong.status_code == 403


def test_python_deepl_options_are_accepted(translator):
    result = translator.translate_text(
        "first line\nsecond line", source_lang="EN", target_lang="DE", formality="more",
        split_sentences="nonewlines", preserve_formatting=True,
    )
    # nonewlines: the line break is not a sentence boundary, the model sees one sentence.
    assert result.text == "[en->de] first line second line"
    per_line = translator.translate_text("first line\nsecond line", source_lang="EN", target_lang="DE", split_sentences="1")
    assert per_line.text == "[en->de] first line\n[en->de] second line"
    with pytest.raises(deepl.DeepLException, match="split_sentences"):
        translator.translate_text("x", target_lang="DE", extra_body_parameters={"split_sentences": "sometimes"})


def test_python_deepl_ignore_tags_keep_their_content(translator):
    result = translator.translate_text(
        "Call <x>Ada Lovelace</x> today", source_lang="EN", target_lang="DE", tag_handling="xml", ignore_tags=["x"]
    )
    # The ignored element is kept verbatim and splits the sentence; the text around it is escaped markup.
    assert result.text == "[en-&gt;de] Call <x>Ada Lovelace</x> [en-&gt;de] today"


@pytest.fixture
def scripted_translator(scripted_gateway, httpserver):
    sent: list[str] = []

    def answer(request):
        inputs = json.loads(request.get_data())["inputs"]
        sent.append(inputs["text"])
        return Response(json.dumps({"translated_text": DICTIONARY.get(inputs["text"], inputs["text"].upper())}),
                        content_type="application/json")

    httpserver.expect_request("/ai/run").respond_with_handler(answer)
    return deepl.Translator(scripted_gateway.api_key, server_url=scripted_gateway.url), sent


def test_inline_markup_is_translated_as_whole_sentences(scripted_translator):
    translator, sent = scripted_translator
    result = translator.translate_text("Good <i>morning</i>", source_lang="EN", target_lang="DE", tag_handling="html")
    assert result.text == "Guten <i>Morgen</i>"
    # The model saw the whole sentence (and the element's own text, to find it again), never "Good" alone.
    assert "Good morning" in sent and "Good" not in sent
    nested = translator.translate_text("<p>Press the <b>red button</b> now.</p>", source_lang="EN", target_lang="DE",
                                       tag_handling="html")
    assert nested.text == "<p>Drücken Sie jetzt den <b>roten Knopf</b>.</p>"


def test_deepl_node_client(gateway):
    run = subprocess.run(["node", str(NODE_CLIENT), gateway.url, gateway.api_key], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["one"] == {"text": "[en->de] Hello, world!", "detectedSourceLang": "en", "billedCharacters": 13}
    assert [t["text"] for t in out["many"]] == ["[en->fr] Good morning", "[en->fr] Thank you"]
    assert [t["billedCharacters"] for t in out["many"]] == [12, 9]
    assert "<x>keep</x>" in out["tagged"]["text"] and "[en->de] keep" not in out["tagged"]["text"]
    assert out["usageAfter"]["limit"] == 1_000_000_000_000
    assert out["usageAfter"]["count"] - out["usageBefore"]["count"] == 13 + 12 + 9 + len("Good <i>morning</i> <x>keep</x>")
    assert len(out["source"]) == 33 and "de" in out["source"]
    assert {"code": "en-GB", "supportsFormality": False} in out["target"]
    assert out["wrongKey"] == "AuthorizationError"
