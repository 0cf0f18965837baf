"""POST /v1/chat/completions."""

from __future__ import annotations

import time

from .. import chat_contract, images, structured
from ..catalog import CHAT, IMAGE_TO_IMAGE, MODERATION, TEXT_TO_IMAGE
from ..chat import ChatRequest, ChatStreamRelay, chunks_from_completion, completion, completion_chunks, passthrough_safe
from ..errors import UpstreamError, from_upstream
from ..http import PassthroughResponse, RelayResponse, StreamResponse, json_response
from ..platform import Context
from ..sse import SSE_HEADERS
from .common import adapter_of, model_headers, resolve_model, run_model
from .images import image_chat, image_type, input_blob, is_image_model


async def chat_completions(ctx: Context):
    body = await ctx.request.json_object(inline_data=True)
    settings = ctx.settings
    # llama-guard may be asked directly too: its answer is the classifier's own text.
    resolved = await resolve_model(ctx, body.get("model"), CHAT, also=(TEXT_TO_IMAGE, IMAGE_TO_IMAGE, MODERATION))
    if is_image_model(resolved):
        return await image_chat(ctx, body, resolved)
    need = structured.requirement(body)
    resolved = structured.json_mode_sibling(resolved, need)
    request = ChatRequest.parse(body, resolved.model)
    if need is not None:
        # The answer is checked (and maybe repaired) before the client sees any of it: the model
        # answers whole, and a stream is made of the checked answer.
        request.inputs.pop("stream", None)
    # Fit the call to the model's published contract (see contracts.py / chat_contract.py).
    plan = chat_contract.adapt(resolved.model.id, request.inputs, stream=request.stream, body=body,
                               lora=adapter_of(resolved))
    if plan.fetch or plan.top_level_image:
        urls = [*plan.fetch, *([plan.top_level_image] if plan.top_level_image else [])]
        blobs = {url: await input_blob(ctx, url) for url in dict.fromkeys(urls)}
        data_urls = {url: blob.data_url(image_type(blob)) for url, blob in blobs.items() if url in plan.fetch}
        values = await blobs[plan.top_level_image].byte_values() if plan.top_level_image is not None else None
        chat_contract.fill_images(plan, request.inputs, data_urls, values)
    request.ids_back = plan.ids_back
    result = await run_model(ctx, resolved.model.id, request.inputs)
    created = int(time.time())
    headers = {**model_headers(resolved), **plan.notes.headers()}

    if request.stream and need is None:
        sse_headers = {**SSE_HEADERS, **headers}
        if isinstance(result, dict):  # a model that ignored `stream`
            return StreamResponse(completion_chunks(chunks_from_completion(result), request, created=created), headers=sse_headers)
        if settings.stream_passthrough and passthrough_safe(request):
            # The model's stream is already what the relay would send: no Python per chunk. The
            # meter reads a copy of it to its end in the runtime for the usage on its last chunk.
            client = result.passthrough()
            return PassthroughResponse(client.handle, headers={**sse_headers, "X-Stream-Relay": "passthrough"}, source=client)
        relay = ChatStreamRelay(request, created=created, on_finish=result.report)
        return RelayResponse(result, relay, settings.ai_timeout_seconds, headers={**sse_headers, "X-Stream-Relay": "transform"})

    def completed(answer) -> dict:
        try:
            if not isinstance(answer, dict):
                getattr(answer, "abandon", lambda: None)()  # charged its bound: it ran, its length is unknown
                raise UpstreamError("the model streamed although `stream` was false")
            try:
                body_out = chat_contract.restore_ids(completion(answer, request, created=created), plan)
                chat_contract.carry_usage_details(body_out, answer.get("usage"))
            except (TypeError, AttributeError, KeyError, IndexError, ValueError) as error:
                # An answer of a shape no model sends (e.g. `choices: [5]`): the upstream's fault, 502.
                raise UpstreamError(f"unexpected shape: {type(error).__name__}: {error}") from None
        except UpstreamError as error:
            print(f"unexpected result from {resolved.model.id}: {error}")
            raise from_upstream(error, resolved.model.id, time.time()) from None
        return body_out

    body_out = completed(result)
    if need is not None:
        async def ask_again(inputs: dict) -> dict:
            # Through the same metered binding as the first call: the repair is counted and charged.
            return completed(await run_model(ctx, resolved.model.id, inputs))

        body_out, repairs = await structured.enforce(body_out, need, request.inputs, resolved.model.id, ask_again)
        headers["X-Structured-Output"] = "repaired" if repairs else "validated"
    if body_out["usage"].get("estimated"):
        headers["X-Usage-Estimated"] = "true"
    if request.stream:
        # A structured answer, checked whole, streamed as the model would have streamed it.
        chunks = completion_chunks(chunks_from_completion(body_out), request, created=created)
        return StreamResponse(chunks, headers={**SSE_HEADERS, **headers})
    return json_response(body_out, headers=headers)
