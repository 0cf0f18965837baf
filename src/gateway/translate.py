"""Translating texts with m2m100: segmenting, detecting, deduplicating, reassembling.

m2m100 translates one text per call and mangles line breaks and markup, so each
text is cut into sentences (its lines, and with tag handling the runs of text and
inline tags between block tags: see `markup`); only the sentences go to the model
and everything else is kept as it was. The model accepts a batch of requests only through the asynchronous
Batch API (it queues them and answers with an id to poll later), which a
synchronous translate call cannot wait for; so the gateway makes one call per
distinct segment, a few at a time, and never translates the same segment twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from . import language_detection, markup
from .request_caps import RequestCaps, bounded_map
from .errors import UpstreamError, bad_request

# Calls in flight at once for one request: enough to hide latency, few enough
# not to trip Workers AI's per-model rate limit on a page-sized batch.
MAX_CONCURRENT_CALLS = 6
MAX_TEXTS = 200
MAX_TOTAL_CHARS = 50_000

TranslateSegment = Callable[[str, str, str], Awaitable[str]]
# (source, target, lines) → their translations, in order: an engine that takes many lines a call
# and keeps inline markup as placeholders (markup.Unit.marked; the LLM engine).
TranslateLines = Callable[[str, str, list[str]], Awaitable[list[str]]]


@dataclass(frozen=True)
class Translation:
    source: str  # m2m100 code of the source (given or detected)
    text: str


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
    options: markup.Options | None = None,
    caps: RequestCaps | None = None,
    before_calls: Callable[[list[tuple[str, str]], str], Awaitable[None]] | None = None,
    translate_lines: Callable[[str, str], TranslateLines | None] | None = None,
) -> list[Translation]:
    """Each text translated to `target`; `source` None means detect it per text.

    The cutting into sentences and the putting back of markup is `markup`'s job (see there).
    `before_calls(segments, target)` learns the distinct (source, segment) pairs before any is
    translated (a budgeted key reserves for them in one write). `translate_lines(source, target)`
    names the many-lines engine for a pair, or None for the one-segment-a-call one.
    """
    if options is None:
        options = markup.Options(tags="html") if tags else markup.PLAIN
    plans = []
    wanted: dict[tuple[str, str], None] = {}
    marked: dict[tuple, dict[str, None]] = {}  # (source, engine) → the units' marked texts, in order
    for text in texts:
        pieces = markup.plan(text, options)
        src = source or language_detection.source_for(
            " ".join(p.sentence() for p in pieces if isinstance(p, markup.Unit)), target
        )
        lines = translate_lines(src, target) if translate_lines is not None and src != target else None
        plans.append((src, text, pieces, lines))
        if src == target:
            continue
        for piece in pieces:
            if isinstance(piece, markup.Unit):
                if lines is not None:
                    marked.setdefault((src, lines), {})[piece.marked()] = None
                    continue
                for segment in piece.segments():
                    wanted[(src, segment)] = None

    done_lines: dict[tuple[str, str], str] = {}
    for (src, lines), found in marked.items():
        batch = list(found)
        done_lines.update(((src, line), out) for line, out in zip(batch, await lines(src, target, batch)))

    keys = list(wanted)
    if caps is not None:
        caps.reserve(len(keys))  # refused before the first call when the request needs too many
    if before_calls is not None and keys:
        await before_calls(keys, target)
    # A few workers take the next segment as they finish one: never a task per segment up front.
    translated = await bounded_map(lambda key: translate_segment(key[1], key[0], target), keys, MAX_CONCURRENT_CALLS,
                                   stop=caps.client_gone if caps is not None else None)
    done = dict(zip(keys, translated))

    results = []
    for src, text, pieces, lines in plans:
        if src == target:
            results.append(Translation(src, text))
            continue
        out = []
        for piece in pieces:
            if isinstance(piece, markup.Unit) and lines is not None:
                out.append(_render_line(piece, done_lines[(src, piece.marked())], options))
            elif isinstance(piece, markup.Unit):
                out.append(piece.render(lambda segment, src=src: done[(src, segment)], options))
            else:
                out.append(piece)
        results.append(Translation(src, "".join(out)))
    return results


def _render_line(unit: markup.Unit, translated: str, options: markup.Options) -> str:
    """A unit from its translated marked text; when the placeholders did not all come back, the
    text without them and the tags placed by word position, as for m2m100."""
    rendered = unit.render_marked(translated)
    if rendered is not None:
        return rendered
    plain = markup.strip_placeholders(translated)
    return unit.render(lambda segment: plain if segment == unit.sentence() else segment, options)


def translated_text(result) -> str:
    """`translated_text` from an m2m100 result (or indictrans2's first `translations` item), or UpstreamError."""
    if isinstance(result, dict) and isinstance(result.get("translated_text"), str):
        return result["translated_text"]
    if isinstance(result, dict) and isinstance(result.get("translations"), list) and result["translations"] \
            and isinstance(result["translations"][0], str):
        return result["translations"][0]
    raise UpstreamError("the translation model answered without `translated_text`")
