"""Language codes, language detection and the segmenting translator, under CPython."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway import language_detection, languages
from gateway.errors import ApiError
from gateway.translate import MAX_CONCURRENT_CALLS, check_texts, translate_texts

DATA = Path(__file__).resolve().parents[1] / "data"


def labelled(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            rows.append((lang, text))
    return rows


def accuracy(rows) -> float:
    return sum(language_detection.detect(text) == lang for lang, text in rows) / len(rows)


def test_the_samples_cover_all_33_deepl_languages():
    wanted = set(languages.DEEPL_TO_M2M100.values())
    for name in ("language_sample.tsv", "language_holdout.tsv"):
        assert wanted <= {lang for lang, _ in labelled(name)}


def test_detection_accuracy_on_the_tuning_sample():
    assert accuracy(labelled("language_sample.tsv")) >= 0.95


def test_detection_accuracy_on_the_held_out_sample():
    assert accuracy(labelled("language_holdout.tsv")) >= 0.9


@pytest.mark.parametrize(
    "text, lang",
    [("こんにちは世界", "ja"), ("漢字だけ", "ja"), ("中文文本", "zh"), ("한국어", "ko"), ("Привет, как дела?", "ru"),
     ("Привіт, як справи?", "uk"), ("שלום", "he"), ("สวัสดี", "th"), ("Καλημέρα", "el"), ("नमस्ते", "hi"),
     ("", "en"), ("12345 !!!", "en")],
)
def test_scripts_decide_first(text, lang):
    assert language_detection.detect(text) == lang


@pytest.mark.parametrize(
    "code, m2m100",
    [("EN", "en"), ("en-us", "en"), ("EN-GB", "en"), ("ZH", "zh"), ("ZH-HANS", "zh"), ("zh-Hant", "zh"), ("zh_TW", "zh"),
     ("PT-BR", "pt"), ("PT-PT", "pt"), ("NB", "no"), ("no", "no"), ("he", "he"), ("IW", "he"), ("french", "fr"),
     ("af", "af"), ("sr-Latn", "sr")],
)
def test_codes_map_to_m2m100(code, m2m100):
    assert languages.to_m2m100(code, "target_lang") == m2m100


@pytest.mark.parametrize("code", ["XX", "klingon", "", None, 5])
def test_unknown_codes_are_named_400s(code):
    with pytest.raises(ApiError) as raised:
        languages.to_m2m100(code, "target_lang")
    assert raised.value.status == 400 and raised.value.param == "target_lang"
    if isinstance(code, str) and code:
        assert code in raised.value.message


def test_every_deepl_language_round_trips():
    for deepl, m2m100 in languages.DEEPL_TO_M2M100.items():
        assert languages.to_m2m100(deepl, "x") == m2m100
        assert languages.to_deepl(m2m100) == deepl


def run_translation(texts, source, target, tags=False):
    calls = []
    in_flight = {"now": 0, "max": 0}

    async def fake(segment, src, tgt):
        calls.append((segment, src, tgt))
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        await asyncio.sleep(0.001)
        in_flight["now"] -= 1
        return f"<{segment}>" if not tags else segment.upper()

    results = asyncio.run(translate_texts(texts, source, target, fake, tags=tags))
    return results, calls, in_flight["max"]


def test_lines_and_surrounding_whitespace_survive():
    (result,), calls, _ = run_translation(["  a  \n\n\tb\r\nc\n"], "en", "de")
    assert result.text == "  <a>  \n\n\t<b>\r\n<c>\n"
    assert sorted(segment for segment, _, _ in calls) == ["a", "b", "c"]


def test_tags_are_kept_out_of_the_model():
    (result,), calls, _ = run_translation(['<a href="x">link</a> and <br/>text'], "en", "de", tags=True)
    assert result.text == '<a href="x">LINK</a> AND <br/>TEXT'
    assert "<" not in "".join(segment for segment, _, _ in calls)


def test_duplicates_are_translated_once_and_calls_are_bounded():
    texts = [f"line {i % 20}" for i in range(100)]
    results, calls, most = run_translation(texts, "en", "fr")
    assert len(calls) == 20
    assert most <= MAX_CONCURRENT_CALLS
    assert [r.text for r in results] == [f"<line {i % 20}>" for i in range(100)]


def test_detection_happens_per_text_and_same_language_is_untouched():
    results, calls, _ = run_translation(["Bonjour tout le monde, comment allez-vous ?", "This is English."], None, "en")
    assert [r.source for r in results] == ["fr", "en"]
    assert results[1].text == "This is English."
    assert [src for _, src, _ in calls] == ["fr"]


@pytest.mark.parametrize("texts", [[], "text", [1], ["x"] * 201, ["x" * 50_001]])
def test_text_lists_are_checked(texts):
    with pytest.raises(ApiError):
        check_texts(texts)
