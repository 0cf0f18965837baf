"""Translating texts with m2m100: segmenting, detecting, deduplicating, reassembling.

m2m100 translates one text per call and mangles line breaks and markup, so each
text is cut into segments (its lines, and with tag handling the runs of text
between tags); only the segments go to the model and everything else is kept as
it was. The model accepts a batch of requests only through the asynchronous
Batch API (it queues them and answers with an id to poll later), which a
synchronous translate call cannot wait for; so the gateway makes one call per
distinct segment, a few at a time, and never translates the same segment twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Awaitable, Callable

from . import language_detection
from .budget import Budget, bounded_map
from .errors import UpstreamError, bad_request

# Calls in flight at once for one request: enough to hide latency, few enough
# not to trip Workers AI's per-model rate limit on a page-sized batch.
MAX_CONCURRENT_CALLS = 6
MAX_TEXTS = 200
MAX_TOTAL_CHARS = 50_000

_LINES = re.compile(r"(\r?\n)")
_TAGS_AND_LINES = re.compile(r"(<[^<>]*>|\r?\n)")

TranslateSegment = Callable[[str, str, str], Awaitable[str]]


@dataclass(frozen=True)
class Translation:
    source: str  # m2m100 code of the source (given or detected)
    text: str


def _pieces(text: str, tags: bool) -> list[str]:
    """The text split into separators (newlines, tags) and runs between them; joined back it is the text."""
    return [piece for piece in (_TAGS_AND_LINES if tags else _LINES).split(text) if piece]


def _is_separator(piece: str, tags: bool) -> bool:
    return piece in ("\n", "\r\n") or (tags and piece.startswith("<") and piece.endswith(">"))


def _translatable(piece: str, tags: bool) -> bool:
    return not _is_separator(piece, tags) and bool(piece.strip())


def _plain_text(text: str, tags: bool) -> str:
    return " ".join(p for p in _pieces(text, tags) if _translatable(p, tags))


def check_texts(texts) -> list[str]:
    if not isinstance(texts, list) or not texts:
        raise bad_request("`text` is required: a string, or a list of strings.", param="text")
    if not all(isinstance(text, str) for text in texts):
        raise bad_request("Every text must be a string.", param="text")
    if len(texts) > MAX_TEXTS:
        raise bad_request(f"At most {MAX_TEXTS} texts per request; got {len(texts)}.", param="text")
    total = sum(len(text) for text in texts)
    if total > MAX_TOTAL_CHARS:
        raise bad_request(f"At most {MAX_TOTAL_CHARS} characters per request; got {total}.", param="text")
    return texts


async def translate_texts(
    texts: list[str], source: str | None, target: str, translate_segment: TranslateSegment, *, tags: bool = False,
    budget: Budget | None = None,
) -> list[Translation]:
    """Each text translated to `target`; `source` None means detect it per text."""
    plans = []
    wanted: dict[tuple[str, str], None] = {}
    for text in texts:
        pieces = _pieces(text, tags)
        src = source or language_detection.detect(_plain_text(text, tags))
        plans.append((src, pieces))
        if src == target:
            continue
        for piece in pieces:
            if _translatable(piece, tags):
                wanted[(src, piece.strip())] = None

    keys = list(wanted)
    if budget is not None:
        budget.reserve(len(keys))  # refused before the first call when the request needs too many
    # A few workers take the next segment as they finish one: never a task per segment up front.
    translated = await bounded_map(lambda key: translate_segment(key[1], key[0], target), keys, MAX_CONCURRENT_CALLS,
                                   stop=budget.client_gone if budget is not None else None)
    done = dict(zip(keys, translated))

    results = []
    for src, pieces in plans:
        if src == target:
            results.append(Translation(src, "".join(pieces)))
            continue
        out = []
        for piece in pieces:
            if _translatable(piece, tags):
                # Keep the whitespace around a segment; the model would drop it.
                lead = piece[: len(piece) - len(piece.lstrip())]
                trail = piece[len(piece.rstrip()) :]
                out.append(lead + done[(src, piece.strip())] + trail)
            else:
                out.append(piece)
        results.append(Translation(src, "".join(out)))
    return results


def translated_text(result) -> str:
    """`translated_text` from an m2m100 result, or UpstreamError."""
    if isinstance(result, dict) and isinstance(result.get("translated_text"), str):
        return result["translated_text"]
    raise UpstreamError("the translation model answered without `translated_text`")
