"""Prints the language detector's accuracy on the labelled samples, and what it confused.

    uv run python bench/language_detection.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gateway.language_detection import detect  # noqa: E402

for name in ("language_sample.tsv", "language_holdout.tsv"):
    rows = [line.split("\t", 1) for line in (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    misses = Counter((lang, detect(text)) for lang, text in rows if detect(text) != lang)
    right = len(rows) - sum(misses.values())
    print(f"{name}: {right}/{len(rows)} = {right / len(rows):.1%}")
    for (lang, got), count in misses.most_common():
        print(f"  {lang} taken for {got}: {count}")
