"""POST /v1/moderations: OpenAI's moderation API, answered by Llama Guard 3."""

from __future__ import annotations

import asyncio
import time

from .. import ids, moderation
from ..catalog import MODERATION
from ..errors import UpstreamError, from_upstream
from ..http import json_response
from ..platform import Context
from .common import model_headers, resolve_model, run_model

MAX_CONCURRENT_CALLS = 4


async def create_moderation(ctx: Context):
    body = await ctx.request.json_object()
    resolved = await resolve_model(ctx, body.get("model"), MODERATION)
    texts = moderation.parse_inputs(body)
    limit = asyncio.Semaphore(MAX_CONCURRENT_CALLS)
    await ctx.meter.prepay([(resolved.model.id, moderation.model_inputs(text)) for text in texts if text.strip()])

    async def classify(text: str) -> dict:
        if not text.strip():
            return moderation.result_object(None)  # nothing to classify, no model call
        async with limit:
            result = await run_model(ctx, resolved.model.id, moderation.model_inputs(text))
        try:
            return moderation.result_object(moderation.verdict(result))
        except UpstreamError as error:
            print(f"unexpected moderation result from {resolved.model.id}: {error}")
            raise from_upstream(error, resolved.model.id, time.time()) from None

    results = await asyncio.gather(*(classify(text) for text in texts))
    headers = {**model_headers(resolved), "X-Moderation-Scores": "verdict-only"}
    return json_response({"id": f"modr-{ids.hex_id(24)}", "model": resolved.model.id, "results": list(results)},
                         headers=headers)
