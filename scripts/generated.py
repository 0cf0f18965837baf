"""What the scripts that generate a committed file share: write it, or with `--check` say whether
the committed copy is current (the unit tests run the checks)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(target: Path, text: str, argv: list[str], command: str) -> int:
    """Writes `text` to `target`; with `--check` in argv, exits 1 (naming `command`) if it differs."""
    if "--check" in argv:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{target.relative_to(ROOT)} is out of date: run {command}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)}")
    return 0
