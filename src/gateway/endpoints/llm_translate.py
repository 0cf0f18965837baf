"""The LLM translation engine's calls (llm_translation.py is its pure part): the translation cache
first, then the lines in batches through the chat pipeline (JSON mode or checked JSON, metered like
any chat call), then line by line for what a batch got wrong."""

from __future__ import annotations

import json

from .. import llm_translation, markup, translation_cache
from ..request_caps import bounded_map
from ..catalog import Model
from ..errors import ApiError
from ..llm_translation import Instructions
from ..platform import Context
from ..structured import FAILED_CODE
from .chat import json_completion

# Calls of one request in flight at once (a chat model's rate limit is lower than m2m100's).
MAX_CONCURRENT_CALLS = 4
# Translation-cache reads in flight at once (the Cache API, no model involved).
MAX_CONCURRENT_LOOKUPS = 8


def _cache_inputs(source: str, target: str, line: str, how: Instructions) -> dict:
    return {"engine": "llm-lines/1", "source": source, "target": target, "line": line, **how.cache_part()}


def _kept(line: str, out: str, how: Instructions) -> bool:
    """A line's translation is taken when its placeholders all came back, each once, and the
    glossary's terms are there."""
    return (sorted(markup.placeholders(line)) == sorted(markup.placeholders(out))
            and llm_translation.glossary_kept(line, out, how.glossary))


def engine(ctx: Context, model: Model, how: Instructions, used: set[str]):
    """A `translate.TranslateLines` on `model` for this request."""

    async def ask(lines: list[str], source: str, target: str) -> list[str] | None:
        body = llm_translation.chat_body(model.id, lines, source, target, how)
        try:
            answer = await json_completion(ctx, model, body)
        except ApiError as error:
            if error.code == FAILED_CODE:  # no JSON of the right shape, even after the repair
                return None
            raise
        return llm_translation.translations_of(_content(answer), len(lines))

    async def translate_lines(source: str, target: str, lines: list[str]) -> list[str]:
        used.add(model.id)
        out: list[str | None] = await bounded_map(
            lambda line: translation_cache.cached(ctx, model.id, _cache_inputs(source, target, line, how), line),
            lines, MAX_CONCURRENT_LOOKUPS)
        todo = [i for i, found in enumerate(out) if found is None]
        asked = set(todo)
        groups = [[todo[j] for j in group] for group in llm_translation.batches([lines[i] for i in todo])]
        ctx.caps.reserve(len(groups))  # an oversized page is refused before the first call
        answers = await bounded_map(lambda group: ask([lines[i] for i in group], source, target), groups,
                                    MAX_CONCURRENT_CALLS, stop=ctx.caps.client_gone)
        again = []
        for group, answer in zip(groups, answers):
            for i, translated in zip(group, answer or [None] * len(group)):
                if translated is not None and (_kept(lines[i], translated, how) or len(group) == 1):
                    out[i] = translated  # asked alone, it is the best there is: tags go back by position
                elif len(group) > 1:
                    again.append(i)
        if again:
            # A bad batch (wrong count, a lost placeholder or term) is asked again a line at a time,
            # those lines only.
            ctx.caps.reserve(len(again))
            singles = await bounded_map(lambda i: ask([lines[i]], source, target), again, MAX_CONCURRENT_CALLS,
                                        stop=ctx.caps.client_gone)
            for i, answer in zip(again, singles):
                out[i] = answer[0] if answer else None
        done = []
        for i, line in enumerate(lines):
            translated = out[i] if out[i] is not None else line  # the model could not: the line as it was
            if i in asked and out[i] is not None and _kept(line, translated, how):
                await translation_cache.keep(ctx, model.id, _cache_inputs(source, target, line, how), translated)
            done.append(translated)
        return done

    return translate_lines


def _content(completion: dict):
    try:
        return json.loads(completion["choices"][0]["message"]["content"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
