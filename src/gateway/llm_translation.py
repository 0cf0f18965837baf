"""The LLM translation engine: many lines per call to a chat model, checked line by line.

m2m100 takes one line a call, knows no formality, no context and no glossary. A chat model takes a
JSON array of lines and answers a JSON array of the same length (through its JSON mode where its
contract has one: see structured.py), so a page of 200 lines is a handful of calls. Inline markup
travels as numbered placeholders (`<x1>`…`</x1>`, see markup.Unit.marked) that must come back,
each once; a batch answered with the wrong count is translated again line by line, and a line
that loses a placeholder is too, so one bad line never costs the page.

Which engine translates a language pair is configuration (config.TranslateEngines): m2m100 stays
the default. This module is the pure part: batching, the prompt, the answer's checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import languages

# One call's lines: few enough characters that the answer fits a model's output (a translation
# runs up to ~1.5x its source, and CJK about a token a character), many enough that a page is a
# handful of calls.
MAX_BATCH_CHARS = 2_000
MAX_BATCH_LINES = 40
# Output tokens asked for per source character (the answer's JSON, quotes and escapes included).
OUTPUT_TOKENS_PER_CHAR = 2
MIN_OUTPUT_TOKENS = 256
# What one call may write at most (a single line of 8 000+ characters is asked for no more).
MAX_OUTPUT_TOKENS = 16_384
# Glossary entries that reach one prompt: only those whose source term occurs in the batch.
MAX_PROMPT_ENTRIES = 200

FORMALITY_WORDS = {
    "more": "Use a formal register (polite forms of address).",
    "prefer_more": "Use a formal register (polite forms of address) where the language has one.",
    "less": "Use an informal register (familiar forms of address).",
    "prefer_less": "Use an informal register (familiar forms of address) where the language has one.",
}


@dataclass(frozen=True)
class Instructions:
    """What a request asks of the translation beyond the language pair (DeepL's fields)."""

    formality: str | None = None  # DeepL's more / less / prefer_more / prefer_less; None or "default": none
    context: str | None = None  # text that helps, not translated (DeepL's `context`)
    glossary: dict[str, str] = field(default_factory=dict)  # source term → target term

    def cache_part(self) -> dict:
        """What of these changes a line's translation, for the translation cache's key."""
        return {"formality": self.formality or "", "context": self.context or "",
                "glossary": sorted(self.glossary.items())}


def batches(lines: list[str]) -> list[list[int]]:
    """Indexes of `lines` grouped into calls of at most MAX_BATCH_CHARS characters and
    MAX_BATCH_LINES lines (a longer line is a call of its own)."""
    out: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, line in enumerate(lines):
        if current and (size + len(line) > MAX_BATCH_CHARS or len(current) >= MAX_BATCH_LINES):
            out.append(current)
            current, size = [], 0
        current.append(i)
        size += len(line)
    if current:
        out.append(current)
    return out


def _name(code: str) -> str:
    deepl = languages.to_deepl(code)
    return languages.DEEPL_NAMES.get(deepl, deepl)


def answer_schema(count: int) -> dict:
    return {"type": "object", "properties": {"translations": {
        "type": "array", "items": {"type": "string"}, "minItems": count, "maxItems": count}},
        "required": ["translations"], "additionalProperties": False}


def chat_body(model_id: str, lines: list[str], source: str, target: str, how: Instructions) -> dict:
    """The chat request that translates `lines` (an OpenAI body: the chat pipeline fits it to the model)."""
    rules = [
        f"You are a translation engine. Translate each string of the JSON array `texts` from {_name(source)} "
        f"into {_name(target)}.",
        f"Answer with a JSON object {{\"translations\": [...]}} holding exactly {len(lines)} strings, the "
        "translation of each text in the same order. Never merge, split, skip or explain texts.",
        "Keep every placeholder tag such as <x1>, </x1> or <x2/> exactly once, around the words it marks. "
        "Keep numbers, URLs, code and names as they are.",
    ]
    if how.formality in FORMALITY_WORDS:
        rules.append(FORMALITY_WORDS[how.formality])
    entries = _glossary_lines(how.glossary, lines)
    if entries:
        rules.append("Translate these terms exactly so (source → target):\n" + entries)
    user: dict = {"texts": lines}
    if how.context:
        user = {"context (for meaning only: do not translate it)": how.context, **user}
    out_tokens = min(MAX_OUTPUT_TOKENS, max(MIN_OUTPUT_TOKENS, OUTPUT_TOKENS_PER_CHAR * sum(len(line) for line in lines)))
    return {
        "model": model_id,
        "messages": [{"role": "system", "content": "\n".join(rules)},
                     {"role": "user", "content": json.dumps(user, ensure_ascii=False)}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "translations", "strict": True, "schema": answer_schema(len(lines))}},
        "temperature": 0,
        "max_tokens": out_tokens,
    }


def _glossary_lines(glossary: dict[str, str], lines: list[str]) -> str:
    text = "\n".join(lines).casefold()
    used = [(s, t) for s, t in glossary.items() if s.casefold() in text][:MAX_PROMPT_ENTRIES]
    return "\n".join(f"{json.dumps(s, ensure_ascii=False)} → {json.dumps(t, ensure_ascii=False)}" for s, t in used)


def translations_of(answer, count: int) -> list[str] | None:
    """The answer's translations when it holds exactly `count` strings, else None (a bad batch)."""
    found = answer.get("translations") if isinstance(answer, dict) else answer
    if isinstance(found, list) and len(found) == count and all(isinstance(t, str) for t in found):
        return found
    return None


def glossary_kept(source_line: str, translated: str, glossary: dict[str, str]) -> bool:
    """Whether every glossary term of the line came out as the glossary says (case-insensitive)."""
    line, out = source_line.casefold(), translated.casefold()
    return all(t.casefold() in out for s, t in glossary.items() if s.casefold() in line)
