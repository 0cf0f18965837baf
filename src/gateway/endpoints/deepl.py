"""DeepL API v2 as its official clients call it: /v2/translate, /v2/usage, /v2/languages, and DeepL's
other features answered as not implemented, in DeepL's envelope."""

from __future__ import annotations

import functools

from .. import deepl, envelopes, glossaries, languages
from ..errors import ApiError, bad_request
from ..http import json_response
from ..platform import Context
from ..routing import Route
from ..translate import check_texts
from .translate import _model, _translate, llm_model


def _in_deepl_terms(handler):
    """A handler whose failures carry the statuses DeepL's description lists (deepl.in_deepl_terms)."""

    @functools.wraps(handler)
    async def answering(ctx: Context, **params):
        try:
            return await handler(ctx, **params)
        except ApiError as error:
            mapped = deepl.in_deepl_terms(error)
            if mapped is error:
                raise
            raise mapped from None

    return answering


def _as_it_failed(error: ApiError, resolved) -> ApiError:
    # Kept as Workers AI failed (a timeout, an error): `_in_deepl_terms` gives it DeepL's status.
    return error


@_in_deepl_terms
async def translate(ctx: Context):
    fields = await deepl.read_fields(ctx.request)
    texts = check_texts(fields.get("text"))
    options = deepl.options(fields)
    resolved = await _model(ctx, fields.get("model"))
    how = deepl.instructions(fields, await _glossary(ctx, resolved, fields))
    done, headers = await _translate(ctx, resolved, texts, fields.get("source_lang"), fields.get("target_lang"), None,
                                     options=options, bill_characters=True, model_failed=_as_it_failed, how=how)
    out = [
        {"detected_source_language": languages.to_deepl(t.source), "text": t.text,
         "billed_characters": deepl.billed_characters(text)}
        for t, text in zip(done, texts)
    ]
    return json_response({"translations": out}, headers=headers)


async def _glossary(ctx: Context, resolved, fields: dict) -> dict[str, str] | None:
    """The entries of the request's `glossary_id`, for the LLM engine; m2m100 takes no glossary."""
    glossary_id = fields.get("glossary_id")
    if not glossary_id:
        return None
    if languages.is_auto(fields.get("source_lang")):
        # DeepL's rule: a glossary is for one language pair, so the source must be named.
        raise bad_request("`source_lang` is required when `glossary_id` is given.", param="source_lang")
    source = languages.to_m2m100(fields.get("source_lang"), "source_lang")
    target = languages.to_m2m100(fields.get("target_lang"), "target_lang")
    if llm_model(ctx, resolved, source, target) is None:
        raise bad_request("Glossaries need the LLM translation engine; this language pair is translated by "
                          "m2m100, which takes no glossary (set TRANSLATE_MODEL or TRANSLATE_MODELS).",
                          param="glossary_id")
    return await glossaries.entries_for(ctx, str(glossary_id), source, target)


@_in_deepl_terms
async def usage(ctx: Context):
    """The calling key's characters this UTC month, counted by every isolate (the usage table)."""
    used = await deepl.characters_used(ctx)
    return json_response({"character_count": used, "character_limit": deepl.character_limit(ctx.settings)})


@_in_deepl_terms
async def language_list(ctx: Context):
    fields = await deepl.read_fields(ctx.request)
    default = await _model(ctx, None)
    return json_response(deepl.language_list(
        fields.get("type"), formality=lambda target: llm_model(ctx, default, "*", target) is not None))


# DeepL's features beyond text translation, by path, with the methods DeepL's description gives each.
# The gateway has no document store or writing model (glossaries: endpoints/glossaries.py). The description
# has no status for a feature a server does not offer; each answers, in DeepL's envelope, the one its
# operation lists that says so best: 404 where listed (the Python library raises DeepLException
# "Not found" for documents), and
# for Write, whose operations list no 404, 403 ForbiddenScoped ("this key may not use it"). Neither
# is retried by DeepL's clients.
UNSUPPORTED_FEATURES: dict[str, tuple[tuple[str, ...], str, int]] = {
    "/v2/document": (("POST",), "document translation", 404),
    "/v2/document/{document_id}": (("POST",), "document translation", 404),
    "/v2/document/{document_id}/result": (("POST",), "document translation", 404),
    "/v2/write/rephrase": (("POST",), "Write", 403),
    "/v2/write/correct": (("POST",), "Write", 403),
}


def not_implemented(feature: str, status: int):
    async def refuse(ctx: Context, **ids):
        raise ApiError(status, f"This gateway does not implement DeepL {feature}; it translates text only "
                       "(/v2/translate, /v2/usage, /v2/languages).", code="not_implemented")

    return refuse


# For the route table, beside /v2/translate: behind the DeepL secret (403 without it, as DeepL).
UNSUPPORTED_FEATURE_ROUTES: list[Route] = [
    Route(methods, pattern, not_implemented(feature, status), auth=deepl.require_secret, errors=envelopes.deepl)
    for pattern, (methods, feature, status) in UNSUPPORTED_FEATURES.items()
]
