"""Writes src/gateway/language_profiles.py: the weights `language_detection` scores words with.

Run it (rarely: only to change what the detector learned) in a throwaway environment, ~5 minutes:

    uv run --no-project --python 3.11 --with wordfreq==3.1.1 --with msgpack --with simplemma==2.0.0 \
        --with langdetect==1.0.9 --with scikit-learn==1.9.1 python tests/data/detection/build_language_profiles.py

What it learns from (nothing of tests/data/detection/short_strings.tsv, which only measures):
- wordfreq 3.1.1 (PyPI; code Apache-2.0, word lists CC BY-SA 4.0): the most frequent words of each
  Latin- and Cyrillic-script language of the 33 (20 000 each; 50 000 for Bulgarian, Russian,
  Ukrainian), and the character frequencies of Japanese and Chinese.
- wordfreq has no Estonian. For Estonian: simplemma 2.0.0 (PyPI, MIT; its Estonian list from Michal
  Měchura's lemmatization lists, ODbL, and Wiktionary) gives every word form, and a character trigram
  model of Estonian text built from langdetect 1.0.9's Estonian profile (PyPI, Apache-2.0; counts from
  Wikipedia) ranks them: the likeliest 20 000 are kept, that likelihood standing in for a frequency.

The model: a word's features are its letters, its character 2- to 4-grams (with a space on either
side) and the word itself, each hashed (zlib.crc32 of its UTF-8, modulo the table's rows) to a row of
weights, one per language; a multinomial logistic regression (scikit-learn, L2, C=1) learns them
from the words above, each weighted by its frequency to the power ALPHA, every language's words
weighing the same in all. Weights are rounded to multiples of 1/16 and kept as signed bytes,
zlib-compressed and base64-encoded: one table for the 23 Latin-script languages, one for Bulgarian,
Russian and Ukrainian. The Han tables list the characters ≥ 12 times likelier in Japanese than in
Chinese and the reverse.
"""

from __future__ import annotations

import base64
import collections
import json
import math
import sys
import zlib
from pathlib import Path

import numpy as np
import scipy.sparse as sparse

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "src"))

from gateway.language_detection import CYRILLIC, LATIN, _features, _normalize, _WORD  # noqa: E402

OUT = ROOT / "src" / "gateway" / "language_profiles.py"
LATIN_WORDS = 20_000  # each language's most frequent words learned from
CYRILLIC_WORDS = 50_000
ALPHA = 0.5  # a word's weight: its frequency to this power (1 = as often as in text, 0 = every word once)
STEP = 1 / 16  # weights are multiples of this, in a signed byte
LATIN_BUCKETS = 16_384
CYRILLIC_BUCKETS = 16_384


def wordfreq_words(lang: str, top: int) -> list[tuple[str, float]]:
    import wordfreq

    words: dict[str, float] = {}
    for word, freq in wordfreq.get_frequency_dict({"no": "nb"}.get(lang, lang), wordlist="best").items():
        word = _normalize(word)
        if _WORD.fullmatch(word) and word not in words:
            words[word] = freq
            if len(words) >= top:
                break
    return list(words.items())


def estonian_words(top: int) -> list[tuple[str, float]]:
    """simplemma's Estonian forms, as likely as a character trigram model of Estonian text
    (langdetect's Estonian profile) finds them: the likeliest `top`, that likelihood their frequency."""
    import langdetect
    from simplemma.strategies.dictionaries.dictionary_factory import _load_dictionary_from_disk

    profile = json.loads((Path(langdetect.__file__).parent / "profiles" / "et").read_text(encoding="utf-8"))["freq"]
    counts: collections.Counter[str] = collections.Counter()
    for gram, count in profile.items():
        counts[gram.lower()] += count
    letters = sum(count for gram, count in counts.items() if len(gram) == 1 and gram != " ")
    after: collections.Counter[str] = collections.Counter()  # bigram counts by first character
    for gram, count in counts.items():
        if len(gram) == 2:
            after[gram[0]] += count

    def prob(char: str, context: str) -> float:
        unigram = (counts.get(char, 0) + 1) / (letters + 100)
        prev = context[-1:]
        bigram = counts.get(prev + char, 0) / after[prev] if after[prev] else 0.0
        trigram = counts.get(context + char, 0) / counts[context] if len(context) == 2 and counts.get(context) else 0.0
        return 0.6 * trigram + 0.3 * bigram + 0.1 * unigram

    def log_likelihood(word: str) -> float:
        padded = f" {word} "
        return sum(math.log(prob(padded[i], padded[max(0, i - 2):i])) for i in range(1, len(padded)))

    forms = set()
    for form, lemma in _load_dictionary_from_disk("et").items():
        for word in (form.decode(), lemma.decode()):
            if word == word.lower() and len(word) >= 2:
                forms.add(_normalize(word))
    scored = sorted(((log_likelihood(word), word) for word in forms if _WORD.fullmatch(word)), reverse=True)
    return [(word, math.exp(score)) for score, word in scored[:top]]


def train(langs: tuple[str, ...], buckets: int, top: int) -> tuple[list[int], bytes]:
    from sklearn.linear_model import LogisticRegression

    rows, cols, labels, weights = [], [], [], []
    for label, lang in enumerate(langs):
        words = estonian_words(top) if lang == "et" else wordfreq_words(lang, top)
        total = sum(freq ** ALPHA for _, freq in words)
        for word, freq in words:
            for bucket in set(_features(word, buckets)):
                rows.append(len(labels))
                cols.append(bucket)
            labels.append(label)
            weights.append(freq ** ALPHA / total * len(langs) * 1000)
        print(f"  {lang}: {len(words)} words", file=sys.stderr)
    x = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(labels), buckets))
    model = LogisticRegression(C=1.0, max_iter=600, tol=1e-4)
    model.fit(x, np.array(labels), sample_weight=np.array(weights))
    table = np.clip(np.round(model.coef_.T / STEP), -127, 127).astype(np.int8)  # buckets × languages
    bias = [int(round(value / STEP)) for value in model.intercept_]
    return bias, table.tobytes()


def han_tables() -> tuple[str, str]:
    """Han characters that tell Japanese from Chinese: ≥ 12 times likelier in one, by wordfreq's
    character frequencies (Traditional characters count as Chinese as often as their Simplified form)."""
    import gzip

    import msgpack
    import wordfreq

    mapping_file = Path(wordfreq.__file__).parent / "data" / "_chinese_mapping.msgpack.gz"
    simplified = msgpack.load(gzip.open(mapping_file), raw=False, strict_map_key=False)
    simplified = {(chr(k) if isinstance(k, int) else k): (chr(v) if isinstance(v, int) else v) for k, v in simplified.items()}

    def is_han(char: str) -> bool:
        point = ord(char)
        return 0x4E00 <= point <= 0x9FFF or 0x3400 <= point <= 0x4DBF or 0xF900 <= point <= 0xFAFF

    def char_freqs(lang: str) -> dict[str, float]:
        counts: collections.Counter[str] = collections.Counter()
        for word, freq in wordfreq.get_frequency_dict(lang, wordlist="best").items():
            for char in word:
                if is_han(char):
                    counts[char] += freq
        total = sum(counts.values())
        return {char: count / total for char, count in counts.items()}

    ja, zh = char_freqs("ja"), char_freqs("zh")

    def zh_freq(char: str) -> float:
        simple = simplified.get(char, char)
        return zh.get(char, 0.0) + (zh.get(simple, 0.0) if simple != char else 0.0)

    ratio, floor, least = 12.0, 1e-8, 2e-6
    chars = sorted(set(ja) | set(zh) | {c for c in simplified if len(c) == 1 and is_han(c)})
    ja_chars = sorted((c for c in chars if ja.get(c, 0) >= least and ja.get(c, 0) >= ratio * max(zh_freq(c), floor)),
                      key=lambda c: -ja[c])
    zh_chars = sorted((c for c in chars if zh_freq(c) >= least and zh_freq(c) >= ratio * max(ja.get(c, 0), floor)),
                      key=lambda c: -zh_freq(c))
    return "".join(ja_chars), "".join(zh_chars)


# The generated module's docstring: where its parts come from and under which licence (see PROVENANCE.md).
HEADER = '''"""Language-detection weights, generated by tests/data/detection/build_language_profiles.py: do not edit.
Learned from wordfreq 3.1.1 (word lists, Japanese/Chinese characters; data CC BY-SA 4.0) and, for Estonian,
simplemma 2.0.0's word forms (MIT; data: ODbL lemmatization lists, Wiktionary...) ranked by langdetect 1.0.9's
Estonian profile (Apache-2.0). An adaptation of wordfreq's data, this file is under CC BY-SA 4.0 (which covers it,
not the code reading it: language_detection.py); sources and attribution: tests/data/detection/PROVENANCE.md."""

'''


def packed(table: bytes) -> str:
    return base64.b64encode(zlib.compress(table, 9)).decode()


def main() -> None:
    print("Latin-script languages", file=sys.stderr)
    latin_bias, latin = train(LATIN, LATIN_BUCKETS, LATIN_WORDS)
    print("Cyrillic-script languages", file=sys.stderr)
    cyrillic_bias, cyrillic = train(CYRILLIC, CYRILLIC_BUCKETS, CYRILLIC_WORDS)
    han_ja, han_zh = han_tables()
    OUT.write_text(
        HEADER +
        f"STEP = {STEP!r}\n"
        f"LATIN = {LATIN!r}\n"
        f"LATIN_BUCKETS = {LATIN_BUCKETS}\n"
        f"LATIN_BIAS = {tuple(latin_bias)!r}\n"
        f'LATIN_WEIGHTS = "{packed(latin)}"\n'
        f"CYRILLIC = {CYRILLIC!r}\n"
        f"CYRILLIC_BUCKETS = {CYRILLIC_BUCKETS}\n"
        f"CYRILLIC_BIAS = {tuple(cyrillic_bias)!r}\n"
        f'CYRILLIC_WEIGHTS = "{packed(cyrillic)}"\n'
        "# Han characters far likelier in Japanese than in Chinese, and the reverse (most frequent first).\n"
        f'HAN_JA = "{han_ja}"\n'
        f'HAN_ZH = "{han_zh}"\n',
        encoding="utf-8",
    )
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
