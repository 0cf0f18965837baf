"""POST /v1/chat/completions."""

from __future__ import annotations

import time

from .. import chat_contract, images
from ..catalog import CHAT, IMAGE_TO_IMAGE, TEXT_TO_IMAGE, resolve
from ..chat import ChatRequest, chunks_from_completion, completion, completion_chunks
from ..errors import UpstreamError, from_upstream
from ..http import StreamResponse, json_response
from ..platform import Context
from ..sse import SSE_HEADERS
from .common import idle_timeout, model_headers, run_model
from .images import _input_image, image_chat, is_image_model


async def chat_completions(ctx: Context):
    body = await ctx.request.json_object()
    settings = ctx.settings
    resolved = resolve(
        body.get("model"), CHAT, aliases=settings.model_aliases, redirect_retired=settings.redirect_retired_models,
        also=(TEXT_TO_IMAGE, IMAGE_TO_IMAGE),
    )
    if is_image_model(resolved):
        return await image_chat(ctx, body, resolved)
    request = ChatRequest.parse(body, resolved.model)
    # Fit the call to the model's published contract (see contracts.py / chat_contract.py).
    plan = chat_contract.adapt(resolved.model.id, request.inputs, stream=request.stream)
    if plan.fetch or plan.top_level_image:
        urls = [*plan.fetch, *([plan.top_level_image] if plan.top_level_image else [])]
        fetched = {url: await _input_image(ctx, url) for url in dict.fromkeys(urls)}
        kinds = {url: images.CONTENT_TYPES.get(images.sniff(data) or "", "image/png") for url, data in fetched.items()}
        chat_contract.fill_images(plan, request.inputs, fetched, kinds)
    request.ids_back = plan.ids_back
    result = await run_model(ctx, resolved.model.id, request.inputs)
    created = int(time.time())
    headers = {**model_headers(resolved), **plan.notes.headers()}

    if request.stream:
        source = chunks_from_completion(result) if isinstance(result, dict) else idle_timeout(result, settings.ai_timeout_seconds)
        return StreamResponse(completion_chunks(source, request, created=created), headers={**SSE_HEADERS, **headers})

    try:
        if not isinstance(result, dict):
            raise UpstreamError("the model streamed although `stream` was false")
        body_out = chat_contract.restore_ids(completion(result, request, created=created), plan)
    except UpstreamError as error:
        print(f"unexpected result from {resolved.model.id}: {error}")
        raise from_upstream(error, resolved.model.id, time.time()) from None
    if body_out["usage"].get("estimated"):
        headers["X-Usage-Estimated"] = "true"
    return json_response(body_out, headers=headers)
