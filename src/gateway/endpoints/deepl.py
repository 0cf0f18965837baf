"""DeepL API v2 as its official clients call it: /v2/translate, /v2/usage, /v2/languages."""

from __future__ import annotations

from .. import deepl, languages
from ..http import json_response
from ..platform import Context
from ..translate import check_texts
from .translate import _model, _translate


async def translate(ctx: Context):
    fields = await deepl.read_fields(ctx.request)
    texts = check_texts(fields.get("text"))
    options = deepl.options(fields)
    resolved = await _model(ctx, fields.get("model"))
    done, headers = await _translate(ctx, resolved, texts, fields.get("source_lang"), fields.get("target_lang"), None,
                                     options=options, bill_characters=True)
    out = [
        {"detected_source_language": languages.to_deepl(t.source), "text": t.text,
         "billed_characters": deepl.billed_characters(text)}
        for t, text in zip(done, texts)
    ]
    return json_response({"translations": out}, headers=headers)


async def usage(ctx: Context):
    """The calling key's characters this UTC month, counted by every isolate (the usage table)."""
    used = await deepl.characters_used(ctx)
    return json_response({"character_count": used, "character_limit": deepl.character_limit(ctx.settings)})


async def language_list(ctx: Context):
    fields = await deepl.read_fields(ctx.request)
    return json_response(deepl.language_list(fields.get("type")))
