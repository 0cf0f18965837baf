"""Prints the language detector's accuracy on the labelled samples and what it confused, or (--cpu)
what it costs: µs per text and for a 200-text page.

    uv run --frozen --no-sync python bench/language_detection.py                 # accuracy
    uv run --frozen --no-sync python bench/language_detection.py --cpu           # CPU, CPython
    uv run --frozen --no-sync python bench/language_detection.py --cpu --src DIR # another checkout's src/
    node bench/language_detection_pyodide.mjs                                    # CPU, Pyodide 314 (production's Python)

CPU: each figure is the best of several rounds, timed a pass at a time with the CPU clock of the
process (process_time; in Pyodide, node's process.cpuUsage()), so that on a shared machine the time
spent waiting for a core is left out. "Cold" clears the detector's caches before every text (what a text costs the first
time an isolate sees it and its words); the page is 200 texts read in order with the caches cleared
once before it (a first page), then the same page again (a site's next page shares most of it).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(sys.argv[sys.argv.index("--src") + 1]) if "--src" in sys.argv else ROOT / "src"
sys.path.insert(0, str(SRC))

from gateway import language_detection  # noqa: E402

DATA = ROOT / "tests" / "data"
ROUNDS = 7


def _node_cpu() -> float:
    """Seconds of CPU the node process running Pyodide has spent."""
    from js import process  # only under Pyodide in node (bench/language_detection_pyodide.mjs)

    usage = process.cpuUsage()
    return (usage.user + usage.system) / 1e6


CLOCK = _node_cpu if sys.platform == "emscripten" else time.process_time


def rows(path: Path) -> list[tuple[str, str]]:
    """(lang, text) rows of a labelled TSV, without comments and header."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and line != "lang\ttext":
            lang, text = line.split("\t", 1)
            found.append((lang, text))
    return found


def accuracy() -> None:
    detect = language_detection.detect
    for name in ("language_sample.tsv", "language_holdout.tsv"):
        labelled = rows(DATA / name)
        misses = Counter((lang, detect(text)) for lang, text in labelled if detect(text) != lang)
        right = len(labelled) - sum(misses.values())
        print(f"{name}: {right}/{len(labelled)} = {right / len(labelled):.1%}")
        for (lang, got), count in misses.most_common():
            print(f"  {lang} taken for {got}: {count}")


def clear_caches() -> None:
    """Forget what the detector remembers (nothing, for a detector without caches)."""
    for name in ("_ranked", "_word_sums"):
        cache = getattr(language_detection, name, None)
        if cache is not None:
            cache.cache_clear()


def per_text_us(texts: list[str]) -> float:
    """Mean µs per text, each detected with the caches cleared first; best of ROUNDS. Timed a pass
    at a time: a pass of (clear, detect) less a pass of clears alone."""
    detect = language_detection.detect

    def both() -> None:
        for text in texts:
            clear_caches()
            detect(text)

    def clears() -> None:
        for _ in texts:
            clear_caches()

    return (best_of(both) - best_of(clears)) / len(texts) * 1e6


def best_of(run) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = CLOCK()
        run()
        best = min(best, CLOCK() - started)
    return best


def page_ms(texts: list[str], *, warm: bool) -> float:
    """ms to detect every text of a page in order; best of ROUNDS."""
    best = float("inf")
    source_for = getattr(language_detection, "source_for", lambda text, target: language_detection.detect(text))
    clock = CLOCK
    for _ in range(ROUNDS):
        clear_caches()
        if warm:
            for text in texts:
                source_for(text, "en")
        started = clock()
        for text in texts:
            source_for(text, "en")
        best = min(best, clock() - started)
    return best * 1e3


def unpack_ms() -> float:
    """ms to unpack the profiles' tables, which the module does once at import; best of ROUNDS."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = CLOCK()
        language_detection._load_models()
        best = min(best, CLOCK() - started)
    return best * 1e3


def page(short: list[tuple[str, str]], sentences: list[tuple[str, str]]) -> list[str]:
    """200 texts as a web page sends them: 20 menu labels (top and bottom of the page: each twice),
    40 other labels and headings, 80 sentences, 40 paragraphs of four sentences of one language.
    Taken across all the languages, so it repeats fewer words than a one-language page."""
    labels = [text for _, text in short[::7]][:60]
    menu, headings = labels[:20], labels[20:]
    by_lang: dict[str, list[str]] = {}
    for lang, text in sentences:
        by_lang.setdefault(lang, []).append(text)
    paragraphs = []
    for i in range(40):
        texts = list(by_lang.values())[i % len(by_lang)]
        paragraphs.append(" ".join(texts[(i + k) % len(texts)] for k in range(4)))
    lines = [text for _, text in sentences][:80]
    body = [item for pair in zip(lines[::2], lines[1::2], paragraphs) for item in pair]
    texts = menu + headings[:20] + body + headings[20:] + menu
    assert len(texts) == 200, len(texts)
    return texts


def cpu() -> None:
    short = rows(DATA / "detection" / "short_strings.tsv")
    sentences = rows(DATA / "language_sample.tsv") + rows(DATA / "language_holdout.tsv")
    cyrillic = {"bg", "ru", "uk"}
    latin = {lang for lang, _ in sentences if lang in ("cs", "da", "de", "en", "es", "et", "fi", "fr", "hu", "id", "it", "lt", "lv", "nl", "no", "pl", "pt", "ro", "sk", "sl", "sv", "tr", "vi")} | cyrillic
    one = [text for _, text in short if len(text.split()) == 1]
    few = [text for _, text in short if len(text.split()) > 1]
    texts = page(short, sentences)
    language_detection.detect("Einstellungen Привет 中文")  # tables unpacked before timing
    print(f"detector from {SRC} ({sys.implementation.name} {sys.version.split()[0]}), best of {ROUNDS} rounds")
    print("| texts | count | µs CPU per text, cold |")
    print("| --- | ---: | ---: |")
    for label, group in (("1 word", one), ("2–4 words", few), ("sentences", [t for _, t in sentences]),
                         ("Latin/Cyrillic sentences", [t for lang, t in sentences if lang in latin]),
                         ("paragraphs of 4 sentences", [t for t in texts if t.count(". ") >= 2 or len(t) > 150]),
                         ("one 5 000-character text", ["Dies ist ein deutscher Satz über das Wetter. " * 110])):
        print(f"| {label} | {len(group)} | {per_text_us(group):.1f} |")
    print()
    print(f"200-text page ({sum(map(len, texts))} characters, {len(set(texts))} distinct texts), "
          f"source_for(text, 'en') for each:")
    if hasattr(language_detection, "_load_models"):
        print(f"- the profiles' tables unpacked at import (isolate startup, not a request): {unpack_ms():.2f} ms")
    print(f"- a first page (caches empty): {page_ms(texts, warm=False):.2f} ms")
    print(f"- the same page again (caches warm): {page_ms(texts, warm=True):.2f} ms")


if __name__ == "__main__":
    cpu() if "--cpu" in sys.argv else accuracy()
