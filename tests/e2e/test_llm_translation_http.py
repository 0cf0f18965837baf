"""The LLM translation engine end to end (TRANSLATE_MODEL set to a chat model): a page's lines
batched into a handful of calls (counted at the scripted upstream), a bad batch asked again line by
line for its lines only, inline tags kept through placeholders, DeepL's formality and context in the
prompt, `supports_formality` in /v2/languages; and a glossary refused where m2m100 translates."""

from __future__ import annotations

import json
import re

import deepl
import httpx
import pytest
from werkzeug.wrappers import Response

from support.local_gateway import LocalGateway

KEY = "sk-llm-key"
LLM = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # Workers AI JSON mode: answers `response` as an object


@pytest.fixture(scope="module")
def llm_gateway(make_httpserver):
    local = LocalGateway(api_keys=KEY, upstream=make_httpserver.url_for("/"),
                         extra_env={"TRANSLATE_MODEL": LLM, "TRANSLATE_CACHE_TTL": "0"})
    yield local
    local.stop()


def _texts(sent: dict) -> list[str]:
    # The first user message holds the lines (a repair adds the answer and a correction after it).
    first = next(m for m in sent["inputs"]["messages"] if m["role"] == "user")
    return json.loads(first["content"])["texts"]


def _script(httpserver, translate=lambda texts: [f"[de] {t}" for t in texts]):
    calls = []

    def answer(request):
        sent = json.loads(request.get_data())
        calls.append(sent)
        assert sent["model"] == LLM
        out = translate(_texts(sent))
        return Response(json.dumps({"response": {"translations": out},
                                    "usage": {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90}}),
                        content_type="application/json")

    httpserver.expect_request("/ai/run").respond_with_handler(answer)
    return calls


def test_a_200_line_page_is_five_calls(llm_gateway, httpserver):
    calls = _script(httpserver)
    lines = [f"Menu item number {i}" for i in range(200)]
    response = httpx.post(f"{llm_gateway.url}/translate", headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                          json={"text_list": lines, "source_lang": "EN", "target_lang": "DE"})
    assert response.status_code == 200, response.text
    assert [t["text"] for t in response.json()["translations"]] == [f"[de] {line}" for line in lines]
    assert len(calls) == 5  # 40 lines a call
    assert sorted(t for c in calls for t in _texts(c)) == sorted(lines)
    assert response.headers["X-Model"] == LLM
    # Through the model's JSON mode, with the count the answer must have.
    schema = calls[0]["inputs"]["response_format"]["json_schema"]["properties"]["translations"]
    assert schema["minItems"] == schema["maxItems"] == 40


def test_a_bad_batch_is_asked_again_line_by_line_for_its_lines_only(llm_gateway, httpserver):
    # A batch of several lines is answered one short; a single line is answered right.
    calls = _script(httpserver, lambda texts: [f"[de] {t}" for t in texts][: len(texts) - 1 or 1])
    lines = ["One", "Two", "Three"]
    response = httpx.post(f"{llm_gateway.url}/translate", headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                          json={"text_list": lines, "source_lang": "EN", "target_lang": "DE"})
    assert response.status_code == 200, response.text
    assert [t["text"] for t in response.json()["translations"]] == ["[de] One", "[de] Two", "[de] Three"]
    # The batch, its repair (structured outputs ask once more with the error), then one call per line.
    assert [len(_texts(c)) for c in calls] == [3, 3, 1, 1, 1]


def test_inline_tags_come_back_through_placeholders(llm_gateway, httpserver):
    calls = _script(httpserver, lambda texts: [t.replace("Click", "Klicken Sie").replace("here", "hier") for t in texts])
    translator = deepl.Translator(KEY, server_url=llm_gateway.url)
    result = translator.translate_text('Click <b>here</b> or <a href="/x">here</a>.', source_lang="EN", target_lang="DE",
                                       tag_handling="html")
    assert result.text == 'Klicken Sie <b>hier</b> or <a href="/x">hier</a>.'
    assert _texts(calls[0]) == ["Click <x1>here</x1> or <x2>here</x2>."]


def test_a_line_that_loses_its_placeholders_keeps_its_tags(llm_gateway, httpserver):
    _script(httpserver, lambda texts: [re.sub(r"</?x\d+/?>", "", t).replace("Good morning", "Guten Morgen") for t in texts])
    translator = deepl.Translator(KEY, server_url=llm_gateway.url)
    result = translator.translate_text("Good <i>morning</i>", source_lang="EN", target_lang="DE", tag_handling="html")
    assert result.text.count("<i>") == 1 and result.text.count("</i>") == 1
    assert re.sub(r"</?i>", "", result.text) == "Guten Morgen"


def test_formality_and_context_reach_the_prompt(llm_gateway, httpserver):
    calls = _script(httpserver)
    translator = deepl.Translator(KEY, server_url=llm_gateway.url)
    translator.translate_text("How are you?", source_lang="EN", target_lang="DE", formality="more",
                              context="A letter to a bank manager.")
    system, user = calls[0]["inputs"]["messages"][0]["content"], calls[0]["inputs"]["messages"][1]["content"]
    assert "formal register" in system
    assert "A letter to a bank manager." in user and "How are you?" in user


def test_a_glossary_reaches_the_prompt_and_is_checked_in_the_answer(llm_gateway, httpserver):
    # The model keeps the term in a line asked alone, and forgets it in a batch.
    calls = _script(httpserver, lambda texts: [t.replace("account", "Konto") if len(texts) == 1 else f"[de] {t}" for t in texts])
    translator = deepl.Translator(KEY, server_url=llm_gateway.url)
    glossary = translator.create_glossary("bank", "EN", "DE", {"account": "Konto", "loan": "Kredit"})
    results = translator.translate_text(["Open an account", "Close an account"], source_lang="EN", target_lang="DE",
                                        glossary=glossary)
    assert [r.text for r in results] == ["Open an Konto", "Close an Konto"]
    system = calls[0]["inputs"]["messages"][0]["content"]
    assert '"account" → "Konto"' in system and "Kredit" not in system  # only the terms the lines hold
    assert [len(_texts(c)) for c in calls] == [2, 1, 1]  # the batch lost the term: each line asked again
    translator.delete_glossary(glossary)


def test_the_languages_say_formality_is_supported(llm_gateway):
    translator = deepl.Translator(KEY, server_url=llm_gateway.url)
    assert all(language.supports_formality for language in translator.get_target_languages())


def test_a_glossary_where_m2m100_translates_is_deepl_s_400(gateway):
    response = httpx.post(f"{gateway.url}/v2/translate", headers={"Authorization": f"DeepL-Auth-Key {gateway.api_key}"},
                          data={"text": "Hello", "source_lang": "EN", "target_lang": "DE",
                                "glossary_id": "def3a26b-3e84-45b3-84ae-0c0aaf3525f7"}, timeout=30)
    assert response.status_code == 400
    assert "m2m100" in response.json()["message"]
    translator = deepl.Translator(gateway.api_key, server_url=gateway.url)
    assert not any(language.supports_formality for language in translator.get_target_languages())
