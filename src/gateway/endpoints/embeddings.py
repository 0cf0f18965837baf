"""POST /v1/embeddings."""

from __future__ import annotations

import time

from .. import embeddings, tokens
from ..catalog import EMBEDDINGS
from ..errors import UpstreamError, from_upstream
from ..http import JsonResponse
from ..platform import Context
from .common import model_headers, resolve_model, run_model


async def create_embeddings(ctx: Context):
    body = await ctx.request.json_object(inline_data=True)
    resolved = await resolve_model(ctx, body.get("model"), EMBEDDINGS)
    model = resolved.model
    body["input"] = await tokens.decode_ids(body.get("input"), "input")
    texts = embeddings.parse_input(body)
    encoding = embeddings.check_options(body, model)
    dimensions = embeddings.dimensions_for(body, model)
    items: list = []
    batches = list(embeddings.batches(texts, model))
    ctx.caps.reserve(len(batches))
    await ctx.meter.prepay([(model.id, {"text": batch}) for batch in batches])
    for batch in batches:
        result = await run_model(ctx, model.id, {"text": batch}, vectors_key="data")
        try:
            got = embeddings.vectors_from(result)
            if len(got) != len(batch):
                raise UpstreamError(f"asked for {len(batch)} embeddings, got {len(got)}")
        except UpstreamError as error:
            print(f"unexpected embeddings result from {model.id}: {error}")
            raise from_upstream(error, model.id, time.time()) from None
        items.extend(embeddings.embedding_items(got, encoding, dimensions))
    headers = {**model_headers(resolved), "X-Usage-Estimated": "true"}
    return JsonResponse(embeddings.response(items, texts, model), 200, {"Content-Type": "application/json", **headers})
