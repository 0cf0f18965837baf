"""POST /v1/embeddings."""

from __future__ import annotations

import time

from .. import embeddings
from ..catalog import EMBEDDINGS, resolve
from ..errors import UpstreamError, from_upstream
from ..http import json_response
from ..platform import Context
from .common import model_headers, run_model


async def create_embeddings(ctx: Context):
    body = await ctx.request.json_object()
    settings = ctx.settings
    resolved = resolve(
        body.get("model"), EMBEDDINGS, aliases=settings.model_aliases, redirect_retired=settings.redirect_retired_models
    )
    model = resolved.model
    texts = embeddings.parse_input(body)
    encoding = embeddings.check_options(body, model)
    vectors: list[list[float]] = []
    batches = list(embeddings.batches(texts, model))
    ctx.budget.reserve(len(batches))
    for batch in batches:
        result = await run_model(ctx, model.id, {"text": batch})
        try:
            got = embeddings.vectors_from(result)
            if len(got) != len(batch):
                raise UpstreamError(f"asked for {len(batch)} embeddings, got {len(got)}")
        except UpstreamError as error:
            print(f"unexpected embeddings result from {model.id}: {error}")
            raise from_upstream(error, model.id, time.time()) from None
        vectors.extend(got)
    headers = {**model_headers(resolved), "X-Usage-Estimated": "true"}
    return json_response(embeddings.response(vectors, texts, model, encoding), headers=headers)
