"""Cutting a text into what m2m100 translates, and putting it back together.

m2m100 translates plain sentences: it mangles line breaks and drops or garbles
markup. So a text is cut into *units* (a line, or with tag handling the run of
text and inline tags between splitting tags), each unit's plain sentence goes
to the model whole, and everything else comes back as it was sent.

Inline markup (`Good <i>morning</i>`) stays in its sentence: the model sees
"Good morning", and each inline element's own text is translated too so the
element can be found again in the translated sentence ("Guten <i>Morgen</i>").
When the model worded it differently, the tags go to the same relative word
positions instead. Elements named in `ignore_tags` (and `script`/`style`, or
`translate="no"`, in HTML) are kept verbatim and split the sentence around them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Callable

# HTML elements that live inside a sentence; every other tag (p, div, li, br, td...) splits one.
INLINE_HTML = frozenset(
    "a abbr b bdi bdo big cite code data del dfn em font i img ins kbd label mark q s samp small span strong "
    "sub sup time tt u var".split()
)
ALWAYS_IGNORED_HTML = frozenset({"script", "style"})

_TAG_OR_NEWLINE = re.compile(r"(<!--.*?-->|<[^<>]*>|\r?\n)", re.S)
_NEWLINE = re.compile(r"(\r?\n)")
_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][\w:.\-]*)")
_TRANSLATE_NO = re.compile(r"""\btranslate\s*=\s*["']?no\b""", re.I)
_SENTENCE_END = ".!?。！？…:;"
_PLACEHOLDER = re.compile(r"(</?x\d+/?>)")


@dataclass(frozen=True)
class Options:
    tags: str | None = None  # "html", "xml" or None (plain text)
    ignore_tags: frozenset[str] = frozenset()
    splitting_tags: frozenset[str] = frozenset()
    non_splitting_tags: frozenset[str] = frozenset()
    # False ("nonewlines" / "0"): a single line break does not end a sentence.
    split_on_newlines: bool = True
    # True: keep the source's first-letter case and final punctuation.
    preserve_formatting: bool = False


PLAIN = Options()


@dataclass
class _Tag:
    text: str
    name: str
    kind: str  # "open", "close", "point"


def _tag(text: str) -> _Tag:
    found = _NAME.match(text)
    if not found:
        return _Tag(text, "", "point")  # comment, doctype, processing instruction
    closing, name = found.groups()
    kind = "close" if closing else ("point" if text.rstrip(">").rstrip().endswith("/") else "open")
    return _Tag(text, name.lower(), kind)


@dataclass
class Unit:
    """A run of text and inline tags translated as one sentence."""

    parts: list = field(default_factory=list)  # str (text) or _Tag
    escaped: bool = False  # text holds HTML entities (tag handling), unescaped for the model

    def _plain(self) -> tuple[str, list[int]]:
        """The plain sentence and each part's start offset in it."""
        out, offsets, length = [], [], 0
        for part in self.parts:
            offsets.append(length)
            if isinstance(part, str):
                text = html.unescape(part) if self.escaped else part
                out.append(text)
                length += len(text)
        return "".join(out), offsets

    def sentence(self) -> str:
        return self._plain()[0].strip()

    def _pairs(self) -> tuple[list[tuple[int, int]], list[int]]:
        """(open index, close index) of matched inline elements, and the indexes of lone tags."""
        pairs, lone, stack = [], [], []
        for i, part in enumerate(self.parts):
            if not isinstance(part, _Tag):
                continue
            if part.kind == "open":
                stack.append(i)
            elif part.kind == "close" and any(self.parts[j].name == part.name for j in stack):
                while stack:
                    j = stack.pop()
                    if self.parts[j].name == part.name:
                        pairs.append((j, i))
                        break
                    lone.append(j)
            else:
                lone.append(i)
        lone.extend(stack)
        return sorted(pairs), sorted(lone)

    def segments(self) -> list[str]:
        """Every text the model must translate for this unit: the sentence, then each element's text."""
        plain, offsets = self._plain()
        wanted = [plain.strip()]
        for start, end in self._pairs()[0]:
            fragment = plain[offsets[start] : offsets[end]].strip()
            if fragment and fragment != wanted[0]:
                wanted.append(fragment)
        return [text for text in wanted if text]

    def marked(self) -> str:
        """The unit for a model that keeps markup (the LLM engine): its text, with each inline tag as
        a numbered placeholder (`<x1>`…`</x1>` for an element, `<x2/>` for a lone tag), trimmed."""
        pairs, lone = self._pairs()
        names = {}
        for n, (start, end) in enumerate(pairs, 1):
            names[start], names[end] = f"<x{n}>", f"</x{n}>"
        for n, i in enumerate(lone, len(pairs) + 1):
            names[i] = f"<x{n}/>"
        out = []
        for i, part in enumerate(self.parts):
            if isinstance(part, str):
                out.append(html.unescape(part) if self.escaped else part)
            else:
                out.append(names[i])
        return "".join(out).strip()

    def render_marked(self, translated: str) -> str | None:
        """The unit with `translated` (its `marked()` text in the target language) in place and the
        tags put back where the model left their placeholders; None when a placeholder is missing,
        repeated or invented (the caller falls back)."""
        originals = {}
        pairs, lone = self._pairs()
        for n, (start, end) in enumerate(pairs, 1):
            originals[f"<x{n}>"], originals[f"</x{n}>"] = self.parts[start].text, self.parts[end].text
        for n, i in enumerate(lone, len(pairs) + 1):
            originals[f"<x{n}/>"] = self.parts[i].text
        plain = self._plain()[0]
        lead, trail = plain[: len(plain) - len(plain.lstrip())], plain[len(plain.rstrip()):]
        if not originals:  # no tags: whatever looks like a placeholder is the text's own
            return self._escape(lead) + self._escape(translated.strip()) + self._escape(trail)
        found = _PLACEHOLDER.findall(translated)
        if sorted(found) != sorted(originals):
            return None
        pieces = _PLACEHOLDER.split(translated.strip())
        body = "".join(originals[p] if p in originals else self._escape(p) for p in pieces)
        return self._escape(lead) + body + self._escape(trail)

    def render(self, translated: Callable[[str], str], options: Options) -> str:
        plain, offsets = self._plain()
        sentence = plain.strip()
        if not sentence:
            return "".join(p if isinstance(p, str) else p.text for p in self.parts)
        lead = len(plain) - len(plain.lstrip())
        out_text = translated(sentence)
        if options.preserve_formatting:
            out_text = keep_format(sentence, out_text)
        size = len(sentence)

        def source_pos(i: int) -> int:
            return min(max(offsets[i] - lead, 0), size)

        pairs, lone = self._pairs()
        positions: dict[int, int] = {}
        for i in lone:
            positions[i] = _relative(out_text, sentence, source_pos(i), opening=True)
        placed: list[tuple[int, int]] = []
        spans: list[tuple[int, int, int, int]] = []  # (open index, close index, start, end) placed so far
        for start, end in pairs:  # outer elements first (sorted by opening index)
            s, e = source_pos(start), source_pos(end)
            fragment = sentence[s:e].strip()
            span = None
            if fragment == sentence:
                span = (0, len(out_text))
            elif fragment:
                span = _find(out_text, translated(fragment), placed)
            if span is None:
                span = (_relative(out_text, sentence, s, opening=True), _relative(out_text, sentence, e, opening=False))
            else:
                placed.append(span)
            # An element stays inside the element that encloses it.
            for o, c, ps, pe in spans:
                if o < start and end < c:
                    span = (min(max(span[0], ps), pe), min(max(span[1], ps), pe))
            span = (span[0], max(span))
            spans.append((start, end, *span))
            positions[start], positions[end] = span

        # Tags at one position keep their source order (a closing tag before the next opening one).
        events = sorted((pos, i, self.parts[i].text) for i, pos in positions.items())
        pieces, cursor = [], 0
        for pos, _, text in events:
            pieces.append(self._escape(out_text[cursor:pos]))
            pieces.append(text)
            cursor = pos
        pieces.append(self._escape(out_text[cursor:]))
        trail = plain[len(plain.rstrip()) :]
        # The whitespace around the sentence is kept; the model would drop it.
        return self._escape(plain[:lead]) + "".join(pieces) + self._escape(trail)

    def _escape(self, text: str) -> str:
        return html.escape(text, quote=False) if self.escaped else text


def placeholders(text: str) -> list[str]:
    """The placeholders of a marked text, in order."""
    return _PLACEHOLDER.findall(text)


def strip_placeholders(text: str) -> str:
    """A marked translation without its placeholders (`<x1>`, `</x1>`, `<x2/>`)."""
    return re.sub(r"\s{2,}", " ", _PLACEHOLDER.sub("", text)).strip()


def _word_starts(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\S+", text)]


def _relative(target: str, source: str, pos: int, *, opening: bool) -> int:
    """Where a tag at `pos` in `source` goes in `target`: the same relative word position
    (character position where the languages write no spaces)."""
    src_words = list(re.finditer(r"\S+", source))
    dst_words = list(re.finditer(r"\S+", target))
    if len(src_words) < 2 or len(dst_words) < 2:
        return round(pos / max(len(source), 1) * len(target))
    # How many source words lie before `pos` (a tag inside a word counts that word as before).
    before = sum(1 for w in src_words if (w.start() < pos if opening else w.end() <= pos))
    index = round(before / len(src_words) * len(dst_words))
    if opening:
        return dst_words[index].start() if index < len(dst_words) else len(target)
    return dst_words[index - 1].end() if index > 0 else 0


def _find(text: str, fragment: str, taken: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The fragment's place in the translated sentence: whole words if possible, not crossing placed spans."""
    fragment = fragment.strip().rstrip(_SENTENCE_END).strip()
    if not fragment:
        return None
    lower, needle = text.lower(), fragment.lower()
    start = lower.find(needle)
    while start >= 0:
        span = (start, start + len(needle))
        if all(span[1] <= a or span[0] >= b or (a <= span[0] and span[1] <= b) or (span[0] <= a and b <= span[1])
               for a, b in taken):
            return span
        start = lower.find(needle, start + 1)
    return None


def keep_format(source: str, out: str) -> str:
    """preserve_formatting: the translation keeps the source's final punctuation (or its absence) and first-letter case."""
    if not out:
        return out
    src_end = source[-1] if source else ""
    if src_end not in _SENTENCE_END and out[-1] in _SENTENCE_END:
        out = out.rstrip(_SENTENCE_END)
    if source[:1].islower() and out[:1].isupper():
        out = out[0].lower() + out[1:]
    return out


def _is_splitting(tag: _Tag, options: Options) -> bool:
    if tag.name in options.non_splitting_tags:
        return False
    if tag.name in options.splitting_tags or not tag.name:
        return True
    return tag.name not in INLINE_HTML


def plan(text: str, options: Options = PLAIN) -> list:
    """The text as verbatim strings and Units; joined back (untranslated) it is the text."""
    escaped = options.tags is not None
    pieces = [p for p in (_TAG_OR_NEWLINE if escaped else _NEWLINE).split(text) if p]
    ignored = options.ignore_tags | (ALWAYS_IGNORED_HTML if options.tags == "html" else frozenset())
    out: list = []
    unit = Unit(escaped=escaped)

    def flush():
        nonlocal unit
        if unit.parts:
            if any(isinstance(p, str) and p.strip() for p in unit.parts):
                out.append(unit)
            else:
                out.append("".join(p if isinstance(p, str) else p.text for p in unit.parts))
        unit = Unit(escaped=escaped)

    i = 0
    while i < len(pieces):
        piece = pieces[i]
        i += 1
        if piece in ("\n", "\r\n"):
            # "nonewlines": a single break inside a paragraph is a space for the model (and in the result).
            if not options.split_on_newlines and unit.parts and i < len(pieces) and pieces[i] not in ("\n", "\r\n") \
                    and pieces[i].strip():
                unit.parts.append(" ")
                continue
            flush()
            out.append(piece)
            continue
        if not (escaped and piece.startswith("<") and piece.endswith(">")):
            unit.parts.append(piece)
            continue
        tag = _tag(piece)
        if tag.kind == "open" and (tag.name in ignored or (options.tags == "html" and _TRANSLATE_NO.search(piece))):
            # Kept verbatim up to its matching closing tag.
            flush()
            depth, kept = 1, [piece]
            while i < len(pieces) and depth:
                nxt = pieces[i]
                i += 1
                kept.append(nxt)
                if nxt.startswith("<") and nxt.endswith(">"):
                    inner = _tag(nxt)
                    if inner.name == tag.name:
                        depth += {"open": 1, "close": -1}.get(inner.kind, 0)
            out.append("".join(kept))
            continue
        if tag.kind != "point" and tag.name in ignored:
            flush()
            out.append(piece)
            continue
        if _is_splitting(tag, options):
            flush()
            out.append(piece)
        else:
            unit.parts.append(tag)
    flush()
    return out


def plain_text(text: str, options: Options = PLAIN) -> str:
    """What language detection looks at: the sentences alone."""
    return " ".join(p.sentence() for p in plan(text, options) if isinstance(p, Unit))
