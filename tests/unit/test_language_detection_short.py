"""Language detection of short strings (issue 31): UI labels, buttons, headings in the 33 DeepL languages.

The figures come from tests/data/detection/short_strings.tsv (written for this test, see PROVENANCE.md
there) and the sentences of tests/data/language_*.tsv, measured by scripts/detection_report.py;
`pytest -s` prints its per-language table.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections import Counter
from pathlib import Path

import pytest

from gateway import language_detection, languages

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("detection_report", ROOT / "scripts" / "detection_report.py")
report = sys.modules.setdefault("detection_report", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(report)

# The examples, and others of the kind that the detector before it took for English
# (all of them but "Mot de passe oublié ?", which it took for Spanish).
NOT_ENGLISH = [
    ("de", "Einstellungen"), ("de", "Passwort vergessen?"), ("de", "Konto erstellen"), ("es", "Gracias"),
    ("fr", "Mot de passe oublié ?"), ("nl", "Wachtwoord vergeten?"), ("es", "Iniciar sesión"), ("it", "Grazie"),
    ("pt", "Obrigado"), ("sv", "Logga in"), ("id", "Terima kasih"), ("fi", "Kiitos"), ("pl", "Anuluj"),
    ("da", "Log ind"),
]


@pytest.fixture(scope="module")
def measured():
    per_lang, overall = report.measure()
    print("\n" + report.markdown(per_lang, overall))
    return per_lang, overall


def test_every_language_has_at_least_ten_short_strings():
    counts = Counter(lang for lang, _ in report.short_strings())
    few = {lang: counts[lang] for lang in languages.DEEPL_TO_M2M100.values() if counts[lang] < 10}
    assert not few, f"languages with fewer than 10 short strings: {few}"
    assert set(counts) <= set(languages.DEEPL_TO_M2M100.values()), "only the 33 languages' m2m100 codes"


def test_the_short_strings_are_short_distinct_and_enough():
    rows = report.short_strings()
    assert len(rows) >= 300
    assert all(1 <= report.words(text) <= 4 for _, text in rows)
    texts = Counter(text.casefold() for _, text in rows)
    assert [text for text, count in texts.items() if count > 1] == []  # one language per label
    assert sum(report.words(text) == 1 for _, text in rows) >= len(rows) / 3  # a good share of single words


def test_single_words_are_right_85_percent_of_the_time(measured):
    _, overall = measured
    assert overall["1 word"].rate >= 0.85, overall["1 word"].misses


def test_two_to_four_words_are_right_95_percent_of_the_time(measured):
    _, overall = measured
    assert overall["2–4 words"].rate >= 0.95, overall["2–4 words"].misses


def test_sentences_are_still_right(measured):
    _, overall = measured
    assert overall["sentences"].rate >= 0.95, overall["sentences"].misses


@pytest.mark.parametrize("lang, text", NOT_ENGLISH)
def test_source_for_never_takes_these_for_the_english_target(lang, text):
    assert language_detection.source_for(text, "en") != "en"


def test_source_for_hardly_ever_echoes_a_short_string_into_english():
    echoed = [(lang, text) for lang, text in report.short_strings()
              if lang != "en" and language_detection.source_for(text, "en") == "en"]
    assert len(echoed) <= 2, echoed


@pytest.mark.parametrize("text", ["Forgot your password?", "This field is required", "Something went wrong",
                                  "The weather is lovely today, so we will walk to the station."])
def test_english_into_english_stays_english_when_sure(text):
    assert language_detection.source_for(text, "en") == "en"


@pytest.mark.parametrize("text, target", [("Einstellungen", "fr"), ("Gracias", "de"), ("Привет, как дела?", "ru"),
                                          ("こんにちは世界", "ja"), ("שלום", "en")])
def test_source_for_is_the_detected_language_otherwise(text, target):
    assert language_detection.source_for(text, target) == language_detection.detect(text)


@pytest.mark.parametrize("text", ["", "12345 !!!", "—"])
def test_a_text_without_letters_is_left_as_it_is(text):
    assert language_detection.detect_ranked(text) == []
    assert language_detection.detect(text) == "en"
    assert language_detection.source_for(text, "de") == "de"


@pytest.mark.parametrize("text", ["Einstellungen", "Konto erstellen", "Tak", "Привет", "中文文本", "検索", "สวัสดี",
                                  "Ceci est une phrase assez longue pour que le détecteur soit sûr de lui."])
def test_ranked_candidates_are_probabilities_best_first(text):
    ranked = language_detection.detect_ranked(text)
    probabilities = [p for _, p in ranked]
    assert probabilities == sorted(probabilities, reverse=True)
    assert math.isclose(sum(probabilities), 1.0) and all(0 <= p <= 1 for p in probabilities)
    assert ranked[0][0] == language_detection.detect(text)
    assert len({lang for lang, _ in ranked}) == len(ranked)


def test_a_long_text_is_judged_on_its_first_words():
    text = "Dies ist ein deutscher Satz über das Wetter. " * 2000
    assert language_detection.detect(text) == "de"


# The cheap paths (issue 31's CPU budget): they must not change what is detected.

def test_the_function_word_fast_path_never_contradicts_a_label():
    wrong, taken = [], 0
    for lang, text in report.short_strings() + report.sentences():
        words = language_detection._WORD.findall(language_detection._normalize(text))
        clear = language_detection._function_words(words[:language_detection.MAX_WORDS])
        if clear is not None:
            taken += 1
            if clear != lang:
                wrong.append((lang, text, clear))
    assert wrong == []
    assert taken >= 80  # it does take most sentences: else it saves nothing


@pytest.mark.parametrize("text, lang", [("Der Hund und die Katze sind nicht im Haus.", "de"),
                                        ("Nous sommes dans la maison avec les enfants.", "fr"),
                                        ("Мы не знаем, что он это сделал.", "ru")])
def test_clear_function_words_decide_alone(text, lang):
    assert language_detection.detect_ranked(text) == [(lang, 1.0)]


def test_function_words_that_do_not_clearly_point_leave_it_to_the_profiles():
    # Danish and Norwegian share these: the fast path must not pick one.
    words = "jeg har ikke det".split()
    assert language_detection._function_words(words) is None


def test_a_repeated_text_is_the_same_answer_and_the_cache_cannot_be_spoiled():
    first = language_detection.detect_ranked("Konto erstellen")
    first.clear()
    again = language_detection.detect_ranked("Konto erstellen")
    assert again and again[0][0] == "de"


def test_only_the_start_of_a_long_text_is_read():
    german = "Der Wetterbericht sagt für morgen starken Regen voraus, also bleiben wir zu Hause. "
    english = "The weather report says there will be heavy rain tomorrow, so we will stay at home. " * 600
    assert language_detection.detect(german + english) == "de"
    assert language_detection.detect(english + german) == "en"


def test_the_profile_reads_words_until_one_language_leads_far():
    model = language_detection._models["latin"]
    words = "das ist ein sehr langer satz auf deutsch mit vielen wörtern".split()
    read = []
    original = language_detection._word_sums
    language_detection._word_sums = lambda model_, word: read.append(word) or original(model_, word)
    try:
        ranked = model.ranked(words)
    finally:
        language_detection._word_sums = original
    assert ranked[0][0] == "de"
    assert len(read) < len(words)  # decided before the end


def test_a_guess_into_another_language_leans_to_english():
    # "Hi" alone looks a little Vietnamese to the profiles; into German it is English, as DeepL takes it.
    assert language_detection.detect_ranked("Hi")[0][1] < language_detection.CONFIDENT
    assert language_detection.source_for("Hi", "de") == "en"
    # Into English the lean would echo texts: none there.
    assert language_detection.source_for("Hi", "en") != "en"


def test_the_english_lean_costs_no_other_language_a_label():
    wrong = [(lang, text) for lang, text in report.short_strings() + report.sentences()
             if lang not in ("en", "de") and language_detection.detect(text) == lang
             and language_detection.source_for(text, "de") != lang]
    assert wrong == []
