"""The LLM translation engine's pure part: batches, the prompt, the answer's checks, placeholders,
the many-lines path of translate_texts, and which pair goes to which engine (TRANSLATE_MODEL(S))."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway import llm_translation, markup
from gateway.config import Settings, parse_translate_engines
from gateway.llm_translation import Instructions
from gateway.translate import translate_texts


def test_lines_are_batched_by_characters_and_count():
    lines = ["x" * 700] * 5 + ["y"] * 45
    groups = llm_translation.batches(lines)
    assert groups[0] == [0, 1]  # 1 400 characters; a third line would pass 2 000
    assert groups[1] == [2, 3] and groups[2][0] == 4
    assert all(len(g) <= 40 for g in groups)
    assert sorted(i for g in groups for i in g) == list(range(50))
    assert llm_translation.batches(["z" * 5000, "a"]) == [[0], [1]]  # a long line is a call of its own


def test_a_200_line_page_is_a_handful_of_calls():
    page = [f"Menu item number {i}" for i in range(200)]  # ~20 characters each
    assert len(llm_translation.batches(page)) == 5  # 40 lines a call


def test_the_prompt_carries_the_pair_the_count_formality_context_and_the_glossary_terms_used():
    how = Instructions(formality="less", context="A bank's web site", glossary={"account": "Konto", "unused": "nie"})
    body = llm_translation.chat_body("@cf/x/y", ["Open an account", "Bye"], "en", "de", how)
    system, user = body["messages"][0]["content"], json.loads(body["messages"][1]["content"])
    assert "from English into German" in system and "exactly 2 strings" in system
    assert "informal register" in system
    assert '"account" → "Konto"' in system and "unused" not in system
    assert user["texts"] == ["Open an account", "Bye"] and "A bank's web site" in json.dumps(user)
    schema = body["response_format"]["json_schema"]["schema"]["properties"]["translations"]
    assert schema["minItems"] == schema["maxItems"] == 2
    plain = llm_translation.chat_body("@cf/x/y", ["Hi"], "en", "fr", Instructions())
    assert "register" not in plain["messages"][0]["content"] and "terms" not in plain["messages"][0]["content"]
    assert list(json.loads(plain["messages"][1]["content"])) == ["texts"]


@pytest.mark.parametrize("answer, count, expected", [
    ({"translations": ["a", "b"]}, 2, ["a", "b"]),
    (["a", "b"], 2, ["a", "b"]),
    ({"translations": ["a"]}, 2, None),
    ({"translations": ["a", 5]}, 2, None),
    ("a", 1, None),
    (None, 1, None),
])
def test_only_an_answer_of_the_right_count_of_strings_is_taken(answer, count, expected):
    assert llm_translation.translations_of(answer, count) == expected


def test_glossary_terms_are_checked_in_the_output():
    glossary = {"Account": "Konto"}
    assert llm_translation.glossary_kept("Open an account", "Ein Konto eröffnen", glossary)
    assert not llm_translation.glossary_kept("Open an account", "Einen Account eröffnen", glossary)
    assert llm_translation.glossary_kept("Hello", "Hallo", glossary)


def test_inline_tags_travel_as_placeholders_and_come_back():
    (unit,) = [p for p in markup.plan("Click <b>here</b> to <a href='/x'>log in</a>", markup.Options(tags="html"))
               if isinstance(p, markup.Unit)]
    assert unit.marked() == "Click <x1>here</x1> to <x2>log in</x2>"
    back = unit.render_marked("Klicken Sie <x1>hier</x1>, um sich <x2>anzumelden</x2>")
    assert back == "Klicken Sie <b>hier</b>, um sich <a href='/x'>anzumelden</a>"
    assert unit.render_marked("Klicken Sie hier") is None  # lost
    assert unit.render_marked("<x1>a</x1> <x1>b</x1> <x2>c</x2>") is None  # repeated
    assert unit.render_marked("<x1>a</x1> <x2>c</x2> <x3/>") is None  # invented


def test_translate_texts_sends_units_to_the_lines_engine_and_renders_them():
    calls = []

    async def lines(src, tgt, texts):
        calls.append((src, tgt, list(texts)))
        return [t.replace("morning", "Morgen").replace("Bye", "Tschüss") for t in texts]

    async def segment(*_):
        raise AssertionError("the one-segment engine must not run")

    texts = ["Good <i>morning</i>", "Bye\nGood <i>morning</i>"]
    done = asyncio.run(translate_texts(texts, "en", "de", segment, tags=True, translate_lines=lambda s, t: lines))
    assert [d.text for d in done] == ["Good <i>Morgen</i>", "Tschüss\nGood <i>Morgen</i>"]
    assert calls == [("en", "de", ["Good <x1>morning</x1>", "Bye"])]  # each distinct line once, one call


def test_a_line_whose_placeholders_were_lost_keeps_its_tags_by_position():
    async def lines(src, tgt, texts):
        return ["Guten Morgen, Welt"]

    (done,) = asyncio.run(translate_texts(["Good <b>morning</b>, world"], "en", "de", None, tags=True,
                                          translate_lines=lambda s, t: lines))
    assert done.text.count("<b>") == 1 and done.text.count("</b>") == 1
    assert markup.strip_placeholders(done.text.replace("<b>", "").replace("</b>", "")) == "Guten Morgen, Welt"


def test_pairs_go_to_the_most_specific_engine_rule():
    rules = parse_translate_engines("gpt-4o-mini", "en-ja=@cf/qwen/qwen3.8-27b,*-KO=@cf/a/b,DE-*=@cf/c/d,xx-en=@cf/e/f")
    settings = Settings(translate_engines=rules)
    assert settings.translate_model_for("en", "ja") == "@cf/qwen/qwen3.8-27b"
    assert settings.translate_model_for("de", "ko") == "@cf/c/d"  # a source rule before a target rule
    assert settings.translate_model_for("fr", "ko") == "@cf/a/b"
    assert settings.translate_model_for("fr", "es") == "gpt-4o-mini"
    assert ("xx", "en", "@cf/e/f") not in rules  # an unknown language is skipped
    assert Settings().translate_model_for("en", "de") is None


def test_text_that_looks_like_a_placeholder_is_kept_when_the_line_has_no_tags():
    async def lines(src, tgt, texts):
        return [t.replace("Use", "Nutze") for t in texts]

    (done,) = asyncio.run(translate_texts(["Use <x1> here"], "en", "de", None, translate_lines=lambda s, t: lines))
    assert done.text == "Nutze <x1> here"
