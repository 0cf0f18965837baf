"""The translation cache: a translated line is kept in the Workers Cache API and not asked for again.

Key: the key that asked (its hash: entries are per key, see below), the model that ran and the
SHA-256 of every input it was given (the line, the language pair); value: the translation; kept
TRANSLATE_CACHE_TTL seconds (30 days by default, 0 turns it off). The Cache API is free and per
data centre; a line cached in one place is translated afresh elsewhere. Immersive Translate sends
the same menus, footers and revisited pages again and again: each of those lines costs one
Workers AI call per data centre, month and key.

Entries are not shared across keys: a hit answers in milliseconds without a model call, so a key
could tell whether any other key had translated a guessed line (and /v1/usage would show the hit).
Making hits take as long as a call would throw away what the cache is for. Every Immersive
Translate user of one deployment shares its translate secret, so they still share one cache.
"""

from __future__ import annotations

import hashlib
import json
from typing import Awaitable, Callable
from urllib.parse import quote

from . import pricing
from .platform import Context

# Bump to drop every cached line at once (a change in segmenting or in the model's inputs).
VERSION = "v2"


def cache_key(origin: str, owner: str, model_id: str, inputs: dict) -> str:
    # ASCII-escaped, so a lone surrogate in a line cannot fail the encoding.
    canonical = json.dumps(inputs, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()
    # A URL under the worker's own origin: the Cache API keys by URL, and on Cloudflare it
    # must belong to the zone the worker serves.
    return f"{origin}/__translation-cache/{VERSION}/{owner}/{quote(model_id, safe='')}/{digest}"


def _key(ctx: Context, model_id: str, inputs: dict) -> str | None:
    if ctx.platform.cache is None or ctx.settings.translate_cache_ttl <= 0 or ctx.meter.hashed is None:
        return None
    return cache_key(ctx.request.origin, ctx.meter.hashed[:32], model_id, inputs)


async def cached(ctx: Context, model_id: str, inputs: dict, segment: str) -> str | None:
    """The translation this key had made of the same inputs before (metered as a cache hit), or None."""
    key = _key(ctx, model_id, inputs)
    hit = await ctx.platform.cache.get(key) if key is not None else None
    if hit is not None:
        ctx.meter.cache_hit(model_id, pricing.translation_neurons(model_id, segment, hit))
    return hit


async def keep(ctx: Context, model_id: str, inputs: dict, text: str) -> None:
    """Stores a translation (after the answer, where the runtime can wait for it)."""
    key = _key(ctx, model_id, inputs)
    if key is None:
        return
    store = ctx.platform.cache.put(key, text, ctx.settings.translate_cache_ttl)
    if ctx.platform.defer is not None:
        ctx.platform.defer(store)
    else:
        await store


async def translated(ctx: Context, model_id: str, inputs: dict, segment: str, translate: Callable[[], Awaitable[str]]) -> str:
    """`translate()`'s text, answered from the cache when this key had the same inputs translated before."""
    hit = await cached(ctx, model_id, inputs, segment)
    if hit is not None:
        return hit
    text = await translate()
    await keep(ctx, model_id, inputs, text)
    return text
