"""DeepL's glossary endpoints, as its official clients call them (glossaries.py keeps them):

- v2 (`Translator.create_glossary`, `list_glossaries`, `get_glossary`, `get_glossary_entries`,
  `delete_glossary`; deepl-node's `createGlossary`... alike): `/v2/glossaries`,
  `/v2/glossaries/{id}`, `/v2/glossaries/{id}/entries` (TSV), `/v2/glossary-language-pairs`. They
  see glossaries with one dictionary; a glossary with more (made through v3) is refused by them.
- v3 (`DeepLClient.create_multilingual_glossary`... and deepl-node's `DeepLClient` alike):
  `/v3/glossaries`, `/v3/glossaries/{id}` (GET, PATCH, DELETE), `/v3/glossaries/{id}/entries`,
  `/v3/glossaries/{id}/dictionaries` (PUT, DELETE).

Bodies as DeepL takes them: JSON, or a form (deepl-node sends `dictionaries[0].entries=...`).
Failures of the glossary rules answer in DeepL's glossary envelope, `{"message", "detail"}`; the
others in its usual `{"message"}` (envelopes.deepl, by the route).
"""

from __future__ import annotations

import functools
import re

from .. import deepl, glossaries
from ..glossaries import Dictionary, Glossary, GlossaryError
from ..http import Response, json_response
from ..platform import Context

_DICTIONARY_FIELD = re.compile(r"dictionaries\[(\d+)\]\.(\w+)")
# What `Accept` may ask for on /v2/glossaries/{id}/entries: DeepL offers tab-separated values only.
_TSV_ACCEPTED = {"text/tab-separated-values", "text/*", "*/*"}


def _answering(handler):
    """A handler whose glossary errors are answered with DeepL's `detail` beside the `message`."""

    @functools.wraps(handler)
    async def answering(ctx: Context, **params):
        try:
            return await handler(ctx, **params)
        except GlossaryError as error:
            return json_response(error.deepl_body(), error.status, error.headers)

    return answering


def _monolingual(glossary: Glossary) -> dict:
    """A glossary as DeepL's v2 `MonolingualGlossary`; 400 for one with other than one dictionary."""
    if len(glossary.dictionaries) != 1:
        held = f"{len(glossary.dictionaries)} dictionaries" if glossary.dictionaries else "no dictionary"
        raise glossaries.bad_request("Glossary is not monolingual", f"It holds {held}; the v2 glossary endpoints serve "
                                     "glossaries with exactly one. Use /v3/glossaries.", code="not_monolingual")
    (dictionary,) = glossary.dictionaries
    return {"glossary_id": glossary.id, "name": glossary.name, "ready": True, "source_lang": dictionary.source,
            "target_lang": dictionary.target, "creation_time": glossary.creation_time,
            "entry_count": dictionary.entry_count}


def _multilingual(glossary: Glossary) -> dict:
    """A glossary as DeepL's v3 `MultilingualGlossary`."""
    return {"glossary_id": glossary.id, "name": glossary.name,
            "dictionaries": [_dictionary_info(d) for d in glossary.dictionaries],
            "creation_time": glossary.creation_time}


def _dictionary_info(dictionary) -> dict:
    return {"source_lang": dictionary.source, "target_lang": dictionary.target, "entry_count": dictionary.entry_count}


def _dictionary(fields: dict) -> Dictionary:
    """One dictionary from its request fields: source_lang, target_lang, entries, entries_format."""
    source, target = glossaries.language_pair(fields.get("source_lang"), fields.get("target_lang"))
    fmt = glossaries.entries_format(fields.get("entries_format"))
    return glossaries.parse_entries(fields.get("entries"), fmt, source, target)


def _dictionaries(fields: dict) -> list[Dictionary] | None:
    """v3's `dictionaries`: a JSON array of objects, or form fields `dictionaries[<n>].<field>`; None when absent."""
    given = fields.get("dictionaries")
    if given is None:
        indexed: dict[int, dict] = {}
        for key, value in fields.items():
            found = _DICTIONARY_FIELD.fullmatch(key)
            if found:
                indexed.setdefault(int(found.group(1)), {})[found.group(2)] = value
        if not indexed:
            return None
        given = [indexed[n] for n in sorted(indexed)]
    if not isinstance(given, list) or not all(isinstance(item, dict) for item in given):
        raise glossaries.bad_request("Missing or invalid argument: dictionaries", "`dictionaries` is an array of "
                                     "objects with source_lang, target_lang, entries and entries_format.",
                                     code="invalid_dictionaries", param="dictionaries")
    if len(given) > glossaries.MAX_DICTIONARIES:
        raise glossaries.too_many_dictionaries()
    return [_dictionary(item) for item in given]


def _id(value: str) -> str:
    return glossaries.parse_id(value)


def _method(ctx: Context) -> str:
    return "GET" if ctx.request.method == "HEAD" else ctx.request.method


def _no_content() -> Response:
    return Response(204, b"", {})


# --- v2 -------------------------------------------------------------------------------------------------

@_answering
async def v2_glossaries(ctx: Context):
    """GET: the key's (monolingual) glossaries; POST: creates one (201)."""
    store = glossaries.store(ctx)
    if _method(ctx) == "GET":
        found = await store.list()
        return json_response({"glossaries": [_monolingual(g) for g in found if len(g.dictionaries) == 1]})
    fields = await deepl.read_fields(ctx.request)
    name = glossaries.name(fields.get("name"))
    dictionary = _dictionary(fields)
    glossary = await store.create(name, [dictionary], glossaries.now(ctx))
    return json_response(_monolingual(glossary), 201)


@_answering
async def v2_glossary(ctx: Context, glossary_id: str):
    """GET: the glossary's details; DELETE: deletes it (204)."""
    glossary_id = _id(glossary_id)
    store = glossaries.store(ctx)
    if _method(ctx) == "DELETE":
        await store.delete(glossary_id)
        return _no_content()
    return json_response(_monolingual(await store.get(glossary_id)))


@_answering
async def v2_entries(ctx: Context, glossary_id: str):
    """The glossary's entries as tab-separated values (the one format DeepL offers: 415 for others)."""
    glossary_id = _id(glossary_id)
    accept = ctx.request.headers.get("accept") or ""
    asked = {part.split(";", 1)[0].strip().lower() for part in accept.split(",") if part.strip()}
    if asked and not asked & _TSV_ACCEPTED:
        raise GlossaryError(415, "No supported media type specified in Accept header",
                            "Glossary entries are offered as text/tab-separated-values only.",
                            code="unsupported_media_type")
    glossary, texts = await glossaries.store(ctx).entries(glossary_id)
    _monolingual(glossary)
    (tsv,) = texts.values()
    return Response(200, tsv, {"Content-Type": "text/tab-separated-values; charset=UTF-8"})


@_answering
async def language_pairs(ctx: Context):
    """Every ordered pair of two different glossary languages (all 33 DeepL translates)."""
    pairs = [{"source_lang": source, "target_lang": target}
             for source in glossaries.LANGUAGES for target in glossaries.LANGUAGES if source != target]
    return json_response({"supported_languages": pairs})


# --- v3 -------------------------------------------------------------------------------------------------

@_answering
async def v3_glossaries(ctx: Context):
    """GET: the key's glossaries; POST: creates one with its dictionaries (201)."""
    store = glossaries.store(ctx)
    if _method(ctx) == "GET":
        return json_response({"glossaries": [_multilingual(g) for g in await store.list()]})
    fields = await deepl.read_fields(ctx.request)
    name = glossaries.name(fields.get("name"))
    dictionaries = _dictionaries(fields) or []
    glossary = await store.create(name, dictionaries, glossaries.now(ctx))
    return json_response(_multilingual(glossary), 201)


@_answering
async def v3_glossary(ctx: Context, glossary_id: str):
    """GET: the glossary's details; PATCH: a new name, and/or one dictionary's entries added to (or
    replacing, by source term) those it has; DELETE: deletes it (204)."""
    glossary_id = _id(glossary_id)
    store = glossaries.store(ctx)
    method = _method(ctx)
    if method == "DELETE":
        await store.delete(glossary_id)
        return _no_content()
    if method == "PATCH":
        fields = await deepl.read_fields(ctx.request)
        name = fields.get("name")
        name = None if name is None else glossaries.name(name)
        dictionaries = _dictionaries(fields) or []
        if name is None and not dictionaries:
            raise glossaries.bad_request("Missing or invalid argument: name or dictionaries",
                                         "A PATCH changes the name, a dictionary, or both.", code="missing_parameter")
        if len(dictionaries) > 1:
            raise glossaries.bad_request("Only one dictionary can be updated at a time",
                                         "`dictionaries` holds 0 or 1 dictionaries in a PATCH.", param="dictionaries")
        if dictionaries:
            await store.put_dictionary(glossary_id, dictionaries[0], merge=True)
        if name is not None:
            await store.rename(glossary_id, name)
    return json_response(_multilingual(await store.get(glossary_id)))


@_answering
async def v3_entries(ctx: Context, glossary_id: str):
    """One dictionary's entries (`source_lang`, `target_lang` in the query), as TSV in JSON."""
    glossary_id = _id(glossary_id)
    fields = await deepl.read_fields(ctx.request)
    pair = glossaries.language_pair(fields.get("source_lang"), fields.get("target_lang"))
    _, texts = await glossaries.store(ctx).entries(glossary_id, pair)
    if pair not in texts:
        raise glossaries.not_found("Dictionary")
    return json_response({"dictionaries": [{"source_lang": pair[0], "target_lang": pair[1], "entries": texts[pair],
                                            "entries_format": "tsv"}]})


@_answering
async def v3_dictionaries(ctx: Context, glossary_id: str):
    """PUT: adds a dictionary, or replaces the one of its language pair; DELETE: deletes the
    dictionary of `source_lang` → `target_lang` (query) (204)."""
    glossary_id = _id(glossary_id)
    store = glossaries.store(ctx)
    fields = await deepl.read_fields(ctx.request)
    if _method(ctx) == "DELETE":
        pair = glossaries.language_pair(fields.get("source_lang"), fields.get("target_lang"))
        await store.delete_dictionary(glossary_id, pair)
        return _no_content()
    info = await store.put_dictionary(glossary_id, _dictionary(fields))
    return json_response(_dictionary_info(info))
