"""Translation endpoints, one per wire format, all on m2m100:

- `POST /translate`: DeepLX (Immersive Translate's "DeepLX" service), and its
  "custom API" batch shape with `text_list`;
- `POST /v2/translate`: DeepL's own API shape (form or JSON);
- `POST /ai/run/{model}`: the Workers AI REST shape the original guide used.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qs

from .. import languages
from ..catalog import TRANSLATION, Resolved, resolve
from ..errors import ApiError, UpstreamError, bad_request, from_upstream
from ..http import json_response
from ..platform import Context
from ..translate import Translation, check_texts, translate_texts, translated_text
from .common import model_headers, run_model


def _model(ctx: Context, name) -> Resolved:
    settings = ctx.settings
    return resolve(name, TRANSLATION, aliases=settings.model_aliases, redirect_retired=settings.redirect_retired_models)


def _source(code) -> str | None:
    return None if languages.is_auto(code) else languages.to_m2m100(code, "source_lang")


async def _translate(ctx: Context, resolved: Resolved, texts: list[str], source, target, tag_handling) -> list[Translation]:
    model_id = resolved.model.id

    async def run(segment: str, src: str, tgt: str) -> str:
        result = await run_model(ctx, model_id, {"text": segment, "source_lang": src, "target_lang": tgt})
        try:
            return translated_text(result)
        except UpstreamError as error:
            print(f"unexpected translation result from {model_id}: {error}")
            raise from_upstream(error, model_id, time.time()) from None

    async def one(segment: str, src: str, tgt: str) -> str:
        try:
            return await run(segment, src, tgt)
        except ApiError as error:
            if error.status < 500:
                raise
            # DeepL clients (Immersive Translate among them) retry or fall back on 503.
            raise ApiError(503, f"The translation model {model_id} failed; try again.", type="server_error",
                           code="translation_failed") from None

    tags = isinstance(tag_handling, str) and tag_handling.lower() in ("html", "xml")
    return await translate_texts(texts, _source(source), languages.to_m2m100(target, "target_lang"), one, tags=tags,
                                 budget=ctx.budget)


async def deeplx(ctx: Context):
    body = await ctx.request.json_object()
    resolved = _model(ctx, body.get("model"))
    target, source = body.get("target_lang"), body.get("source_lang")
    headers = model_headers(resolved)
    if "text_list" in body:
        # Immersive Translate's "custom API": a whole page's paragraphs at once.
        texts = check_texts(body["text_list"])
        done = await _translate(ctx, resolved, texts, source, target, body.get("tag_handling"))
        out = [{"detected_source_lang": languages.to_deepl(t.source), "text": t.text} for t in done]
        return json_response({"translations": out}, headers=headers)

    text = body.get("text")
    if not isinstance(text, str):
        raise bad_request("`text` is required and must be a string.", param="text")
    (done,) = await _translate(ctx, resolved, [text], source, target, body.get("tag_handling"))
    return json_response(
        {
            "code": 200,
            "id": secrets.randbelow(10**10),
            "data": done.text,
            "alternatives": [],
            "source_lang": languages.to_deepl(done.source),
            "target_lang": target,
            "method": "Free",
        },
        headers=headers,
    )


async def _deepl_fields(ctx: Context) -> dict:
    """DeepL's request fields from a form or a JSON body; `text` always a list."""
    request = ctx.request
    if request.content_type == "application/json":
        body = await request.json_object()
        text = body.get("text")
        return {**body, "text": [text] if isinstance(text, str) else text}
    form = parse_qs(await request.text(), keep_blank_values=True)
    fields = {name: values[0] for name, values in form.items()}
    fields["text"] = form.get("text")
    return fields


async def deepl_v2(ctx: Context):
    fields = await _deepl_fields(ctx)
    texts = check_texts(fields.get("text"))
    resolved = _model(ctx, fields.get("model"))
    done = await _translate(ctx, resolved, texts, fields.get("source_lang"), fields.get("target_lang"),
                            fields.get("tag_handling"))
    out = [{"detected_source_language": languages.to_deepl(t.source), "text": t.text} for t in done]
    return json_response({"translations": out}, headers=model_headers(resolved))


async def ai_run(ctx: Context, model: str):
    body = await ctx.request.json_object()
    resolved = _model(ctx, model)
    text = body.get("text")
    if not isinstance(text, str):
        raise bad_request("`text` is required and must be a string.", param="text")
    (done,) = await _translate(ctx, resolved, [text], body.get("source_lang"), body.get("target_lang"), None)
    return json_response(
        {"result": {"translated_text": done.text}, "success": True, "errors": [], "messages": []},
        headers=model_headers(resolved),
    )
