"""POST /v1/chat/completions."""

from __future__ import annotations

import time
from typing import Any, Callable

from .. import chat_contract, images, structured
from ..catalog import CHAT, IMAGE_TO_IMAGE, MODERATION, TEXT_TO_IMAGE, Model
from ..chat_completion import completion
from ..chat_request import ChatRequest
from ..chat_stream import ChatStreamRelay, chunks_from_completion, completion_chunks, passthrough_safe
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

    completed = _completer(request, plan, resolved.model.id, created)
    body_out = completed(result)
    if need is not None:
        body_out, repairs = await _enforce(ctx, body_out, need, request, resolved.model.id, completed)
        headers["X-Structured-Output"] = "repaired" if repairs else "validated"
    if body_out["usage"].get("estimated"):
        headers["X-Usage-Estimated"] = "true"
    if request.stream:
        # A structured answer, checked whole, streamed as the model would have streamed it.
        chunks = completion_chunks(chunks_from_completion(body_out), request, created=created)
        return StreamResponse(chunks, headers={**SSE_HEADERS, **headers})
    return json_response(body_out, headers=headers)


def _completer(request: ChatRequest, plan, model_id: str, created: int) -> Callable[[Any], dict]:
    """Turns a non-streamed Workers AI answer into the client's `chat.completion` (ids restored,
    usage details kept), or a 502 for an answer of a shape no model sends."""
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
            print(f"unexpected result from {model_id}: {error}")
            raise from_upstream(error, model_id, time.time()) from None
        return body_out
    return completed


async def _enforce(ctx: Context, body_out: dict, need, request: ChatRequest, model_id: str, completed) -> tuple[dict, int]:
    async def ask_again(inputs: dict) -> dict:
        # Through the same metered binding as the first call: the repair is counted and charged.
        return completed(await run_model(ctx, model_id, inputs))

    return await structured.enforce(body_out, need, request.inputs, model_id, ask_again)


async def json_completion(ctx: Context, model: Model, body: dict) -> dict:
    """A non-streamed chat call whose answer must match the body's `response_format`: the checked
    `chat.completion` (repaired once, else 502 structured_output_failed). For the gateway's own uses
    of a chat model, such as the LLM translation engine."""
    request = ChatRequest.parse(body, model)
    need = structured.requirement(body)
    plan = chat_contract.adapt(model.id, request.inputs, stream=False, body=body)
    request.ids_back = plan.ids_back
    completed = _completer(request, plan, model.id, int(time.time()))
    body_out = completed(await run_model(ctx, model.id, request.inputs))
    return (await _enforce(ctx, body_out, need, request, model.id, completed))[0]
