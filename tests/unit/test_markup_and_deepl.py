"""Sentences with inline markup, DeepL's request fields, and the Responses/completions conversions, under CPython."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway import completions, deepl, markup, responses
from gateway.errors import ApiError
from gateway.translate import translate_texts

WORDS = {"Good morning": "Guten Morgen", "morning": "Morgen", "Press the red button now.": "Drücken Sie jetzt den roten Knopf.",
         "red button": "roten Knopf", "button": "Knopf", "Hello world": "Hallo Welt", "world": "Welt"}


def render(text: str, options: markup.Options, table=WORDS) -> str:
    pieces = markup.plan(text, options)
    return "".join(p.render(lambda s: table.get(s, s.upper()), options) if isinstance(p, markup.Unit) else p for p in pieces)


HTML = markup.Options(tags="html")


@pytest.mark.parametrize(
    "text, out",
    [
        ("Good <i>morning</i>", "Guten <i>Morgen</i>"),
        ("<p>Hello <b>world</b></p>\n<p>Good morning</p>", "<p>Hallo <b>Welt</b></p>\n<p>Guten Morgen</p>"),
        ("Press the <b>red <i>button</i></b> now.", "Drücken Sie jetzt den <b>roten <i>Knopf</i></b>."),
        ("<b>Good morning</b>", "<b>Guten Morgen</b>"),
        ("Tom &amp; Jerry", "TOM &amp; JERRY"),
        ('<span translate="no">Good morning</span> world', '<span translate="no">Good morning</span> Welt'),
        ("<script>var a = 1;</script>world", "<script>var a = 1;</script>Welt"),
    ],
)
def test_inline_markup_goes_back_into_the_translated_sentence(text, out):
    assert render(text, HTML) == out


def test_unfound_elements_keep_their_relative_position_and_nesting():
    # "red button" is worded differently in the sentence: the tags land on the same relative words, still nested.
    out = render("Press the <b>red <i>button</i></b> now.", HTML, {**WORDS, "red button": "roter Knopf", "button": "Taste"})
    assert out.count("<b>") == 1 and out.index("<b>") < out.index("<i>") < out.index("</i>") < out.index("</b>")


def test_the_model_sees_whole_sentences():
    (unit,) = [p for p in markup.plan("Good <i>morning</i>", HTML) if isinstance(p, markup.Unit)]
    assert unit.segments() == ["Good morning", "morning"]


def test_ignore_tags_and_newline_modes():
    xml = markup.Options(tags="xml", ignore_tags=frozenset({"x"}))
    assert render("Hello <x>Good morning</x> world", xml) == "HELLO <x>Good morning</x> Welt"
    assert render("Good\nmorning", markup.Options(split_on_newlines=False)) == "Guten Morgen"
    assert render("Good\nmorning", markup.PLAIN) == "GOOD\nMorgen"


def test_preserve_formatting_keeps_case_and_final_punctuation():
    assert markup.keep_format("hello there", "Hallo da.") == "hallo da"
    assert markup.keep_format("Hello.", "Hallo.") == "Hallo."


def test_translate_texts_with_options_deduplicates_segments():
    calls = []

    async def fake(segment, src, tgt):
        calls.append(segment)
        return WORDS.get(segment, segment)

    results = asyncio.run(translate_texts(["Good <i>morning</i>", "Good <b>morning</b>"], "en", "de", fake, options=HTML))
    assert [r.text for r in results] == ["Guten <i>Morgen</i>", "Guten <b>Morgen</b>"]
    assert sorted(calls) == ["Good morning", "morning"]


@pytest.mark.parametrize(
    "fields, param",
    [({"split_sentences": "2"}, "split_sentences"), ({"formality": "very"}, "formality"), ({"tag_handling": "md"}, "tag_handling"),
     ({"preserve_formatting": "yes"}, "preserve_formatting"), ({"ignore_tags": [1]}, "ignore_tags")],
)
def test_deepl_fields_are_checked(fields, param):
    with pytest.raises(ApiError) as caught:
        deepl.options(fields)
    assert caught.value.param == param


def test_deepl_fields_become_options():
    options = deepl.options({"tag_handling": "XML", "ignore_tags": ["x,y", "z"], "preserve_formatting": "1", "formality": "prefer_less"})
    assert options.tags == "xml" and options.ignore_tags == {"x", "y", "z"} and options.preserve_formatting
    assert options.split_on_newlines  # DeepL's default "1"
    assert not deepl.options({"tag_handling": "html"}).split_on_newlines  # DeepL's default with HTML: nonewlines


def test_language_lists():
    source, target = deepl.language_list("source"), deepl.language_list("target")
    assert len(source) == 33 and {"language": "DE", "name": "German"} in source
    codes = {entry["language"] for entry in target}
    assert {"EN-GB", "EN-US", "PT-BR", "PT-PT", "ZH-HANS", "ZH-HANT", "ZH"} <= codes and not {"EN", "PT"} & codes
    with pytest.raises(ApiError):
        deepl.language_list("both")


def test_responses_input_items_become_chat_messages():
    body = {
        "model": "m", "instructions": "sys", "max_output_tokens": 16, "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "tool_choice": {"type": "function", "name": "f"},
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "reasoning", "id": "rs_1", "summary": []},
        ],
    }
    chat = responses.chat_body(body)
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant", "tool"]
    assert [c["id"] for c in chat["messages"][2]["tool_calls"]] == ["c1", "c2"]
    assert chat["max_tokens"] == 16 and chat["tools"][0]["function"]["name"] == "f"
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}


def _chat_stream(*deltas, finish="stop"):
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = [f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': d, 'finish_reason': None}]})}\n\n" for d in deltas]
    events.append(f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': finish}]})}\n\n")
    events.append("data: [DONE]\n\n")

    async def gen():
        for event in events:
            yield event

    return gen()


def _collect(agen):
    async def run():
        return [item async for item in agen]

    return asyncio.run(run())


def test_response_events_keep_output_indexes_in_order():
    stream = _chat_stream({"role": "assistant", "content": ""}, {"content": "Hi"},
                          {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\""}}]},
                          {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}, finish="tool_calls")
    events = [json.loads(e.split("data: ", 1)[1]) for e in _collect(responses.response_events(stream, {}, "m"))]
    final = events[-1]["response"]
    assert events[-1]["type"] == "response.completed"
    assert [item["type"] for item in final["output"]] == ["message", "function_call"]
    assert final["output"][1]["arguments"] == '{"a":1}'
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    assert added == [0, 1]


def test_text_completion_chunks_drop_the_role_chunk():
    stream = _chat_stream({"role": "assistant", "content": ""}, {"content": "a"}, {"content": "b"})
    chunks = _collect(completions.text_completion_chunks(stream, echo="P:"))
    texts = [json.loads(c[6:])["choices"][0]["text"] for c in chunks[:-1]]
    assert texts == ["P:", "a", "b", ""] and chunks[-1] == "data: [DONE]\n\n"


def test_deepl_character_limit_setting():
    from gateway.config import Settings

    # Unset, empty or malformed: no limit (reported as DeepL reports a Pro account without cost control).
    assert Settings.from_lookup(lambda name: None).deepl_character_limit is None
    assert Settings.from_lookup({"DEEPL_CHARACTER_LIMIT": ""}.get).deepl_character_limit is None
    assert Settings.from_lookup({"DEEPL_CHARACTER_LIMIT": "1_000_000"}.get).deepl_character_limit == 1_000_000
    assert Settings.from_lookup({"DEEPL_CHARACTER_LIMIT": "lots"}.get).deepl_character_limit is None
    assert Settings.from_lookup({"DEEPL_CHARACTER_LIMIT": "0"}.get).deepl_character_limit == 0
