"""The translation cache: a translated line is kept in the Workers Cache API and not asked for again.

Key: the model, the source and target language and the SHA-256 of the line; value: the
translation; kept TRANSLATE_CACHE_TTL seconds (30 days by default, 0 turns it off). The Cache
API is free and per data centre; a line cached in one place is translated afresh elsewhere.
Immersive Translate sends the same menus, footers and revisited pages again and again: each
of those lines now costs one Workers AI call per data centre and month.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from . import pricing, usage
from .platform import Context
from .translate import TranslateSegment

# Bump to drop every cached line at once (a change in segmenting or in the model's inputs).
VERSION = "v1"


def cache_key(origin: str, model_id: str, source: str, target: str, segment: str) -> str:
    digest = hashlib.sha256(segment.encode("utf-8")).hexdigest()
    # A URL under the worker's own origin: the Cache API keys by URL, and on Cloudflare it
    # must belong to the zone the worker serves.
    return f"{origin}/__translation-cache/{VERSION}/{quote(model_id, safe='')}/{source}/{target}/{digest}"


def cached(ctx: Context, model_id: str, translate_segment: TranslateSegment) -> TranslateSegment:
    """`translate_segment`, answered from the cache when the line was translated before."""
    cache, ttl = ctx.platform.cache, ctx.settings.translate_cache_ttl
    if cache is None or ttl <= 0:
        return translate_segment
    origin = ctx.request.origin

    async def one(segment: str, source: str, target: str) -> str:
        key = cache_key(origin, model_id, source, target, segment)
        hit = await cache.get(key)
        if hit is not None:
            usage.cache_hit(ctx, model_id, pricing.translation_neurons(model_id, segment, hit))
            return hit
        translated = await translate_segment(segment, source, target)
        store = cache.put(key, translated, ttl)
        if ctx.platform.defer is not None:
            ctx.platform.defer(store)
        else:
            await store
        return translated

    return one
