"""Translation endpoints, one per wire format, all on m2m100:

- `POST /translate`: DeepLX (Immersive Translate's "DeepLX" service), and its
  "custom API" batch shape with `text_list`;
- `POST /v2/translate`: DeepL's own API shape (in `deepl.py`, beside /v2/usage and /v2/languages);
- `POST /ai/run/{model}`: the Workers AI REST shape the original guide used (`run_translation`,
  called by endpoints/run.py).
"""

from __future__ import annotations

import time
from typing import Awaitable, Callable, TypeVar

from .. import catalog, deepl, ids, languages, translation_cache
from ..catalog import BY_ID, CHAT, TRANSLATION, Model, Resolved
from ..llm_translation import Instructions
from . import llm_translate
from ..errors import ApiError, UpstreamError, bad_request, from_upstream
from ..http import json_response
from ..platform import Context
from ..translate import Translation, check_texts, translate_texts, translated_text
from .common import model_headers, resolve_model, run_model


T = TypeVar("T")


async def _model(ctx: Context, name) -> Resolved:
    # A chat model named here translates as the LLM engine (endpoints/llm_translate.py).
    return await resolve_model(ctx, name, TRANSLATION, also=(CHAT,))


def llm_model(ctx: Context, resolved: Resolved, src: str, tgt: str) -> Model | None:
    """The chat model that translates this pair (the LLM engine), or None for m2m100/indictrans2:
    the one the request named, else the one TRANSLATE_MODEL(S) names for the pair."""
    if resolved.model.task == CHAT:
        return resolved.model
    if resolved.via != "default":
        return None  # the request named a translation model
    name = ctx.settings.translate_model_for(src, tgt)
    if name is None:
        return None
    try:
        configured = catalog.resolve(name, TRANSLATION, aliases=ctx.settings.model_aliases, also=(CHAT,))
    except ApiError as error:
        print(f"TRANSLATE_MODEL(S) names {name!r}, which cannot translate: {error.message}")
        return None
    return configured.model if configured.model.task == CHAT else None


def _source(code) -> str | None:
    return None if languages.is_auto(code) else languages.to_m2m100(code, "source_lang")


INDICTRANS2 = "@cf/ai4bharat/indictrans2-en-indic-1B"


def _pick(resolved: Resolved, src: str, tgt: str) -> tuple[str, dict]:
    """The model and inputs for one segment's language pair: English into an Indic language that
    indictrans2 serves goes to it (unless the request named another model); anything else to m2m100
    (or the model the request named)."""
    named = resolved.model.id
    if tgt in languages.INDICTRANS2 and src == "en" and (named == INDICTRANS2 or resolved.via == "default"):
        return INDICTRANS2, {"target_language": languages.INDICTRANS2[tgt]}
    if named == INDICTRANS2:
        raise bad_request(f"{INDICTRANS2} translates English into Indic languages only (not {src} → {tgt}); "
                          "leave `model` unset to use m2m100 for other pairs.", param="target_lang", code="unsupported_language")
    if named in BY_ID and (tgt not in languages.M2M100_CODES or src not in languages.M2M100_CODES):
        hint = " (from English, indictrans2 serves it)" if tgt in languages.INDICTRANS2 else ""
        raise bad_request(f"m2m100 cannot translate {src} → {tgt}{hint}.", param="target_lang", code="unsupported_language")
    return named, {"source_lang": src, "target_lang": tgt}


def _call(resolved: Resolved, segment: str, src: str, tgt: str) -> tuple[str, dict]:
    """The model that translates `segment` and its whole input (indictrans2 takes a list of texts; m2m100 one text)."""
    model_id, pair = _pick(resolved, src, tgt)
    return model_id, {"text": [segment] if model_id == INDICTRANS2 else segment, **pair}


def retry_later(error: ApiError, resolved: Resolved) -> ApiError:
    # DeepLX clients (Immersive Translate among them) retry or fall back on 503.
    return ApiError(503, f"The translation model {resolved.model.id} failed; try again.", type="server_error",
                    code="translation_failed")


async def _translate(ctx: Context, resolved: Resolved, texts: list[str], source, target, tag_handling,
                     options=None, *, bill_characters: bool = False,
                     model_failed: Callable[[ApiError, Resolved], ApiError] = retry_later,
                     how: Instructions | None = None) -> tuple[list[Translation], dict]:
    """The translations, and the model headers (naming every model that ran when the language pair chose it).
    With `bill_characters` (DeepL's routes), the texts count against the key's character limit.
    `model_failed` is how a failure of the model on Workers AI's side (a 5xx) reaches the client."""
    used: set[str] = set()
    source_code, target_code = _source(source), languages.to_m2m100(target, "target_lang")  # 400 before anything is held
    if bill_characters:
        await deepl.reserve_characters(ctx, texts)

    async def run(segment: str, src: str, tgt: str) -> str:
        model_id, inputs = _call(resolved, segment, src, tgt)
        used.add(model_id)

        async def call() -> str:
            result = await run_model(ctx, model_id, inputs)
            try:
                return translated_text(result)
            except UpstreamError as error:
                print(f"unexpected translation result from {model_id}: {error}")
                raise from_upstream(error, model_id, time.time()) from None

        # Cached by the model that runs and its whole input (the line, the language pair).
        return await translation_cache.translated(ctx, model_id, inputs, segment, call)

    async def as_the_route_fails(work: Awaitable[T]) -> T:
        # A failure of the model on Workers AI's side reaches the client as the route says.
        try:
            return await work
        except ApiError as error:
            if error.status < 500 or error.code == "accounting_unavailable":
                raise
            raise model_failed(error, resolved) from None

    async def one(segment: str, src: str, tgt: str) -> str:
        return await as_the_route_fails(run(segment, src, tgt))

    async def before_calls(segments: list[tuple[str, str]], tgt: str) -> None:
        await ctx.meter.prepay([_call(resolved, segment, src, tgt) for src, segment in segments])

    engines: dict[tuple[str, str], object] = {}

    def lines_engine(src: str, tgt: str):
        if (src, tgt) not in engines:
            model = llm_model(ctx, resolved, src, tgt)
            engines[(src, tgt)] = None if model is None else llm_translate.engine(ctx, model, how or Instructions(), used)
        return engines[(src, tgt)]

    async def many(src: str, tgt: str, lines: list[str]) -> list[str]:
        return await as_the_route_fails(lines_engine(src, tgt)(src, tgt, lines))

    tags = isinstance(tag_handling, str) and tag_handling.lower() in ("html", "xml")
    done = await translate_texts(texts, source_code, target_code, one, tags=tags,
                                 options=options, caps=ctx.caps, before_calls=before_calls,
                                 translate_lines=lambda src, tgt: many if lines_engine(src, tgt) else None)
    if bill_characters:
        deepl.count_characters(ctx, min(used) if used else resolved.model.id, texts)
    headers = model_headers(resolved)
    if used and used != {resolved.model.id}:
        headers["X-Model"] = ", ".join(sorted(used))
        headers["X-Requested-Model"] = resolved.requested
        headers["X-Model-Resolution"] = "language"
    return done, headers


async def deeplx(ctx: Context):
    body = await ctx.request.json_object()
    resolved = await _model(ctx, body.get("model"))
    target, source = body.get("target_lang"), body.get("source_lang")
    if "text_list" in body:
        # Immersive Translate's "custom API": a whole page's paragraphs at once.
        texts = check_texts(body["text_list"])
        done, headers = await _translate(ctx, resolved, texts, source, target, body.get("tag_handling"),
                                         bill_characters=True)
        out = [{"detected_source_lang": languages.to_deepl(t.source), "text": t.text} for t in done]
        return json_response({"translations": out}, headers=headers)

    text = body.get("text")
    if not isinstance(text, str):
        raise bad_request("`text` is required and must be a string.", param="text")
    (done,), headers = await _translate(ctx, resolved, [text], source, target, body.get("tag_handling"),
                                        bill_characters=True)
    return json_response(
        {
            "code": 200,
            "id": ids.below(10**10),
            "data": done.text,
            "alternatives": [],
            "source_lang": languages.to_deepl(done.source),
            "target_lang": target,
            "method": "Free",
        },
        headers=headers,
    )


async def run_translation(ctx: Context, resolved: Resolved, body: dict):
    """/ai/run/<translation model> (endpoints/run.py): one text, the REST API's envelope."""
    text = body.get("text")
    if not isinstance(text, str):
        raise bad_request("`text` is required and must be a string.", param="text")
    (done,), headers = await _translate(ctx, resolved, [text], body.get("source_lang"), body.get("target_lang"), None)
    return json_response(
        {"result": {"translated_text": done.text}, "success": True, "errors": [], "messages": []},
        headers=headers,
    )
