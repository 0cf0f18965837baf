"""POST /v1/chat/completions."""

from __future__ import annotations

import time

from ..catalog import CHAT, IMAGE_TO_IMAGE, TEXT_TO_IMAGE, resolve
from ..chat import ChatRequest, ChatStreamRelay, chunks_from_completion, completion, completion_chunks, passthrough_safe
from ..errors import UpstreamError, from_upstream
from ..http import PassthroughResponse, RelayResponse, StreamResponse, json_response
from ..platform import Context
from ..sse import SSE_HEADERS
from .common import model_headers, run_model
from .images import image_chat, is_image_model


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
    result = await run_model(ctx, resolved.model.id, request.inputs)
    created = int(time.time())
    headers = model_headers(resolved)

    if request.stream:
        sse_headers = {**SSE_HEADERS, **headers}
        if isinstance(result, dict):  # a model that ignored `stream`
            return StreamResponse(completion_chunks(chunks_from_completion(result), request, created=created), headers=sse_headers)
        if settings.stream_passthrough and passthrough_safe(request):
            # The model's stream is already what the relay would send: no Python per chunk.
            return PassthroughResponse(result.handle, headers={**sse_headers, "X-Stream-Relay": "passthrough"})
        relay = ChatStreamRelay(request, created=created)
        return RelayResponse(result, relay, settings.ai_timeout_seconds, headers={**sse_headers, "X-Stream-Relay": "transform"})

    try:
        if not isinstance(result, dict):
            raise UpstreamError("the model streamed although `stream` was false")
        body_out = completion(result, request, created=created)
    except UpstreamError as error:
        print(f"unexpected result from {resolved.model.id}: {error}")
        raise from_upstream(error, resolved.model.id, time.time()) from None
    if body_out["usage"].get("estimated"):
        headers["X-Usage-Estimated"] = "true"
    return json_response(body_out, headers=headers)
