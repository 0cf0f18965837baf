"""What the official DeepL clients (Python `deepl`, Node `deepl-node`) need beyond a translation.

- the request fields of `/v2/translate` (JSON or form, repeated or comma-joined tag lists) turned
  into the segmenter's `markup.Options`;
- the 403 DeepL answers for a wrong or missing key, and the legacy `auth_key` field;
- the character count behind `/v2/usage` and DEEPL_CHARACTER_LIMIT: per key and UTC month, in the
  usage table (held before a translation, counted after it: metering.py, ledger.py);
- the language lists of `/v2/languages`, from the language table.
"""

from __future__ import annotations

from typing import Callable
from urllib.parse import parse_qs

from . import languages, ledger, markup
from .auth import matching, presented_translate_secrets
from .config import Settings
from .errors import ApiError, bad_request
from .http import Request
from .llm_translation import Instructions
from .metering import accounting_unavailable
from .platform import Context, DatabaseError

SPLIT_SENTENCES = ("0", "1", "nonewlines")
FORMALITY = ("default", "more", "less", "prefer_more", "prefer_less")


# --- request fields -------------------------------------------------------------------------------

async def read_fields(request: Request) -> dict:
    """DeepL's request fields from a JSON body, a form body (also on GET), and the query; `text` always a list."""
    fields: dict = {}
    for name, values in request.query.items():
        fields[name] = values if name == "text" else values[0]
    if request.content_type == "application/json":
        body = await request.json_object()
        fields.update(body)
    elif request.content_type == "application/x-www-form-urlencoded":
        form = parse_qs(await request.text(), keep_blank_values=True)
        for name, values in form.items():
            fields[name] = values if name in ("text", "ignore_tags", "splitting_tags", "non_splitting_tags") else values[0]
    text = fields.get("text")
    if isinstance(text, str):
        fields["text"] = [text]
    return fields


def _tag_set(value, name: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request(f"`{name}` must be a list of tag names or a comma-separated string.", param=name)
    return frozenset(tag.strip().lower() for item in value for tag in item.split(",") if tag.strip())


def _flag(value, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, str)) and str(value).strip().lower() in ("0", "1", "true", "false"):
        return str(value).strip().lower() in ("1", "true")
    raise bad_request(f"`{name}` must be 0 or 1 (or true/false).", param=name)


def instructions(fields: dict, glossary: dict[str, str] | None = None) -> Instructions:
    """What the LLM engine is asked beyond the pair: DeepL's `formality` and `context` (checked by
    `options`), and the glossary's entries."""
    formality = fields.get("formality")
    context = fields.get("context")
    if context is not None and not isinstance(context, str):
        raise bad_request("`context` must be a string.", param="context")
    return Instructions(formality=formality.lower() if isinstance(formality, str) and formality else None,
                        context=context or None, glossary=glossary or {})


def options(fields: dict) -> markup.Options:
    """The segmenter's options from DeepL's fields; 400 naming the field when a value is not DeepL's."""
    tag_handling = fields.get("tag_handling")
    if tag_handling in (None, ""):
        tags = None
    elif isinstance(tag_handling, str) and tag_handling.lower() in ("html", "xml"):
        tags = tag_handling.lower()
    else:
        raise bad_request("`tag_handling` must be xml or html.", param="tag_handling")
    split = fields.get("split_sentences")
    # DeepL's default is "1", except with HTML tag handling, where it is "nonewlines".
    split = ("nonewlines" if tags == "html" else "1") if split in (None, "") else str(split).lower()
    if split not in SPLIT_SENTENCES:
        raise bad_request("`split_sentences` must be 0, 1 or nonewlines.", param="split_sentences")
    formality = fields.get("formality")
    if formality not in (None, "") and (not isinstance(formality, str) or formality.lower() not in FORMALITY):
        raise bad_request(f"`formality` must be one of {', '.join(FORMALITY)}.", param="formality")
    return markup.Options(
        tags=tags,
        ignore_tags=_tag_set(fields.get("ignore_tags"), "ignore_tags"),
        splitting_tags=_tag_set(fields.get("splitting_tags"), "splitting_tags"),
        non_splitting_tags=_tag_set(fields.get("non_splitting_tags"), "non_splitting_tags"),
        split_on_newlines=split == "1",
        preserve_formatting=_flag(fields.get("preserve_formatting"), "preserve_formatting"),
    )


def billed_characters(text: str) -> int:
    """DeepL bills every character of the source text (Unicode code points), markup included."""
    return len(text)


# --- auth -----------------------------------------------------------------------------------------

def _secrets(settings: Settings) -> tuple[str, ...]:
    return (settings.translate_password,) if settings.translate_password else settings.api_keys


async def _candidates(request: Request) -> list[str]:
    found = presented_translate_secrets(request)
    legacy = request.query_value("auth_key")
    if legacy:
        found.append(legacy)
    if not found and request.content_type == "application/x-www-form-urlencoded":
        # The legacy `auth_key` form field: the body is read (within the body limit) only when nothing else was sent.
        form = parse_qs(await request.text(), keep_blank_values=True)
        found.extend(value for value in form.get("auth_key", []) if value)
    return found


async def require_secret(request: Request, settings: Settings) -> str:
    """/v2/*: the translate secret (or any API key when none is set), as DeepL's clients send it
    (a header, or the legacy `auth_key` in the query or the form); the one that matched.

    DeepL answers 403 for a wrong or missing key, and its libraries raise their
    authorization error only for that status, so these routes do the same.
    """
    secrets = _secrets(settings)
    if not secrets:
        raise ApiError(403, "This gateway has no translate secret or API key configured, so it refuses every request.",
                       type="authentication_error", code="api_keys_not_configured")
    candidates = await _candidates(request)
    if not candidates:
        raise ApiError(403, "Missing authentication key: send `Authorization: DeepL-Auth-Key <secret>`.",
                       type="authentication_error", code="missing_api_key")
    secret = matching(candidates, secrets)
    if secret is None:
        raise ApiError(403, "Authorization failure: wrong authentication key.", type="authentication_error",
                       code="invalid_api_key")
    return secret


# --- errors in DeepL's terms -----------------------------------------------------------------------

# DeepL's description lists, for failures on its side, only 500 ("Internal error"), 504 ("Resource
# currently unavailable. Try again later.") and 529 ("Too many requests": its high load), never 502
# or 503. A failure the gateway names by its code or status is answered with the listed one that
# means the same; a used-up quota becomes 456 where it is rendered (envelopes.deepl).
DEEPL_STATUS_BY_CODE: dict[str, int] = {
    "capacity_exceeded": 529,  # Workers AI is out of capacity for the model
    "upstream_timeout": 504,
    # The worker's configuration, which no retry changes.
    "ai_binding_missing": 500,
    "accounting_off": 500,
}
DEEPL_STATUS_BY_STATUS: dict[int, int] = {
    502: 500,  # the model failed, or answered what no model should
    503: 504,  # busy or briefly unavailable (the isolate's heap, the usage database): try again later
}


def in_deepl_terms(error: ApiError) -> ApiError:
    """`error` with the status DeepL's description gives for it (the same error when it already has one)."""
    status = DEEPL_STATUS_BY_CODE.get(error.code or "") or DEEPL_STATUS_BY_STATUS.get(error.status)
    if status is None or status == error.status:
        return error
    return ApiError(status, error.message, type=error.type, code=error.code, param=error.param,
                    headers=error.headers, quota=error.quota)


# --- the character count ---------------------------------------------------------------------------

# What DeepL reports as the limit of a Pro account without cost control: no limit.
UNLIMITED_CHARACTERS = 1_000_000_000_000


def character_limit(settings: Settings) -> int:
    return settings.deepl_character_limit if settings.deepl_character_limit is not None else UNLIMITED_CHARACTERS


async def reserve_characters(ctx: Context, texts: list[str]) -> None:
    """Before translating: with DEEPL_CHARACTER_LIMIT set, the request's characters are held against
    the key's month (456 when they do not fit)."""
    await ctx.meter.reserve_characters(sum(billed_characters(text) for text in texts))


def count_characters(ctx: Context, model_id: str, texts: list[str]) -> None:
    """After translating: what the request bills, added to its key's count (/translate and /v2/translate share it)."""
    ctx.meter.count_characters(model_id, sum(billed_characters(text) for text in texts))


async def characters_used(ctx: Context) -> int:
    """The key's characters this UTC month, from the usage table (every isolate's), with requests in flight."""
    meter = ctx.meter
    if meter.database is None:
        return 0
    try:
        return await ledger.characters(meter.database, meter.hashed, meter.day)
    except DatabaseError as error:
        print(f"usage query failed: {error}")
        raise accounting_unavailable() from None


# --- languages ------------------------------------------------------------------------------------

def language_list(kind, formality: Callable[[str], bool] = lambda target: False) -> list[dict]:
    """`/v2/languages`: DeepL's codes for what m2m100 translates. m2m100 has no formality control;
    a target language claims `supports_formality` when `formality(<m2m100 code>)` says the LLM
    engine translates into it from any language."""
    if kind in (None, "", "source"):
        return [{"language": code, "name": languages.DEEPL_NAMES[code]} for code in sorted(languages.DEEPL_TO_M2M100)]
    if kind != "target":
        raise bad_request("`type` must be source or target.", param="type")
    codes = [code for code in languages.DEEPL_TO_M2M100 if code not in languages.DEEPL_TARGET_VARIANTS_OF]
    codes += list(languages.DEEPL_TARGET_VARIANTS)
    return [
        {"language": code, "name": languages.DEEPL_TARGET_VARIANTS.get(code) or languages.DEEPL_NAMES[code],
         "supports_formality": formality(languages.to_m2m100(code, "target_lang"))}
        for code in sorted(codes)
    ]
