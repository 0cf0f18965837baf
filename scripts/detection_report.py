"""Prints the language detector's accuracy per language as a Markdown table (for docs/language-detection.md).

    uv run python scripts/detection_report.py            # the table
    uv run python scripts/detection_report.py --misses   # and every miss, after it

Measured on tests/data/detection/short_strings.tsv (short UI strings: one word, or two to four)
and on the sentences of tests/data/language_sample.tsv and language_holdout.tsv.
tests/unit/test_language_detection_short.py holds the overall figures.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gateway import language_detection  # noqa: E402

DATA = ROOT / "tests" / "data"
SHORT = DATA / "detection" / "short_strings.tsv"
SENTENCES = (DATA / "language_sample.tsv", DATA / "language_holdout.tsv")
KINDS = ("1 word", "2–4 words", "sentences")
_LETTER = re.compile(r"[^\W\d_]")


def words(text: str) -> int:
    """Words as a reader counts them: space-separated pieces with a letter (so a Chinese, Japanese
    or Thai label without spaces is one word)."""
    return sum(1 for piece in text.split() if _LETTER.search(piece))


def short_strings() -> list[tuple[str, str]]:
    lines = SHORT.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "lang\ttext", "short_strings.tsv starts with its header line"
    return [tuple(line.split("\t", 1)) for line in lines[1:] if line]


def sentences() -> list[tuple[str, str]]:
    rows = []
    for path in SENTENCES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                rows.append(tuple(line.split("\t", 1)))
    return rows


def kind(text: str, sentence: bool) -> str:
    return "sentences" if sentence else "1 word" if words(text) == 1 else "2–4 words"


@dataclass
class Tally:
    right: int = 0
    total: int = 0
    misses: list[tuple[str, str]] = field(default_factory=list)

    def add(self, ok: bool, text: str, got: str) -> None:
        self.right += ok
        self.total += 1
        if not ok:
            self.misses.append((text, got))

    @property
    def rate(self) -> float:
        return self.right / self.total if self.total else 1.0

    def cell(self) -> str:
        return f"{self.right}/{self.total} ({self.rate:.0%})" if self.total else "–"


def measure(detect=language_detection.detect) -> tuple[dict[str, dict[str, Tally]], dict[str, Tally]]:
    """Per language and kind, and overall per kind: how many `detect` got right."""
    per_lang: dict[str, dict[str, Tally]] = {}
    overall = {name: Tally() for name in KINDS}
    for rows, sentence in ((short_strings(), False), (sentences(), True)):
        for lang, text in rows:
            got = detect(text)
            name = kind(text, sentence)
            per_lang.setdefault(lang, {k: Tally() for k in KINDS})[name].add(got == lang, text, got)
            overall[name].add(got == lang, text, got)
    return per_lang, overall


def markdown(per_lang: dict[str, dict[str, Tally]], overall: dict[str, Tally]) -> str:
    lines = ["| language | " + " | ".join(KINDS) + " |", "| --- |" + " ---: |" * len(KINDS)]
    for lang in sorted(per_lang):
        lines.append(f"| {lang} | " + " | ".join(per_lang[lang][k].cell() for k in KINDS) + " |")
    lines.append("| **all** | " + " | ".join(f"**{overall[k].cell()}**" for k in KINDS) + " |")
    return "\n".join(lines)


def main() -> None:
    per_lang, overall = measure()
    print(markdown(per_lang, overall))
    if "--misses" in sys.argv:
        print()
        for lang in sorted(per_lang):
            for name in KINDS:
                for text, got in per_lang[lang][name].misses:
                    print(f"- {lang} ({name}): {text!r} taken for {got}")


if __name__ == "__main__":
    main()
