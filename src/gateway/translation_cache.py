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


async def translated(ctx: Context, model_id: str, inputs: dict, segment: str, translate: Callable[[], Awaitable[str]]) -> str:
    """`translate()`'s text, answered from the cache when this key had the same inputs translated before."""
    cache, ttl, meter = ctx.platform.cache, ctx.settings.translate_cache_ttl, ctx.meter
    if cache is None or ttl <= 0 or meter.hashed is None:
        return await translate()
    key = cache_key(ctx.request.origin, meter.hashed[:32], model_id, inputs)
    hit = await cache.get(key)
    if hit is not None:
        meter.cache_hit(model_id, pricing.translation_neurons(model_id, segment, hit))
        return hit
    text = await translate()
    store = cache.put(key, text, ttl)
    if ctx.platform.defer is not None:
        ctx.platform.defer(store)
    else:
        await store
    return text
