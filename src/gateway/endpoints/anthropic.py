"""POST /v1/messages, POST /v1/messages/count_tokens, and GET /v1/models in Anthropic's shapes.

A Messages request is converted into a chat request and answered by the chat endpoint itself (model
resolution, contracts, images, streaming, metering), then its answer or its chunk stream is
re-shaped (anthropic_messages.py, anthropic_stream.py). Claude model names are mapped first
(anthropic_models.py); the answer names the Workers AI model that ran, in `model` and `X-Model`.
"""

from __future__ import annotations

import json

from .. import anthropic_messages, anthropic_models, pricing
from ..anthropic_messages import request_id
from ..anthropic_stream import AnthropicRelay, AnthropicStream, message_events
from ..catalog import CHAT
from ..errors import bad_request, not_found
from ..http import RelayResponse, Response, StreamResponse, json_response
from ..platform import Context
from ..sse import SSE_HEADERS
from .common import resolve_model
from .models import _entries
from .models import list_models as openai_list_models
from .models import retrieve_model as openai_retrieve_model
from .responses import _STREAMS, _chat_events, _model_headers, _stream_headers, via_chat

VERSION_HEADER = "anthropic-version"


async def _model(ctx: Context, body: dict):
    """(the name the chat endpoint is given, the resolved model, the Claude name mapped or None)."""
    requested = body.get("model")
    if requested is None:
        raise bad_request("model: Field required", param="model")
    mapped = anthropic_models.mapped_model(requested, ctx.settings.anthropic_model_map)
    name = mapped or requested
    return name, await resolve_model(ctx, name, CHAT), requested if mapped else None


def _named(headers: dict, claude_name: str | None) -> dict:
    """The chat endpoint's model headers, saying the client's own Claude name was mapped."""
    headers = {**headers, "request-id": request_id()}
    if claude_name is not None:
        headers["X-Requested-Model"] = claude_name
        headers["X-Model-Resolution"] = "anthropic_model_map"
    return headers


async def create_message(ctx: Context):
    body = await ctx.request.json_object(inline_data=True)
    name, resolved, claude_name = await _model(ctx, body)
    stops = anthropic_messages.stop_sequences(body)
    chat = anthropic_messages.chat_body(body, name, resolved.model.id, max_tokens_cap=ctx.settings.anthropic_max_tokens)
    # Lowered to ANTHROPIC_MAX_TOKENS: the header says the model was asked for less than the client asked.
    lowered = {"X-Max-Tokens": str(chat["max_tokens"])} if chat["max_tokens"] != body["max_tokens"] else {}
    answer = await via_chat(ctx, chat)
    if isinstance(answer, _STREAMS):
        model = answer.headers.get("X-Model") or resolved.model.id
        stream = AnthropicStream(model, stops, pricing.prompt_of(chat).estimate(), anthropic_messages.thinking_shown(body))
        headers = _named({**_stream_headers(answer), **SSE_HEADERS, **lowered}, claude_name)
        if isinstance(answer, RelayResponse):
            # Re-shaped inside the runtime's pipe, as the chat stream itself is: one call per read.
            return RelayResponse(answer.source, AnthropicRelay(answer.relay, stream), answer.idle_seconds, answer.status,
                                 headers, on_close=answer.on_close)
        events = message_events(_chat_events(answer, ctx.settings.ai_timeout_seconds), stream)
        return StreamResponse(events, answer.status, headers)
    if isinstance(answer, Response) and answer.status == 200:
        message = anthropic_messages.message_object(json.loads(answer.body), stops, anthropic_messages.thinking_shown(body))
        return json_response(message, headers=_named({**_model_headers(answer), **lowered}, claude_name))
    raise anthropic_messages.error_from_openai(answer.status, answer.body)


async def count_tokens(ctx: Context):
    """The prompt's tokens as the gateway estimates them for metering (no Workers AI model publishes
    its tokenizer): no AI call, nothing charged."""
    body = await ctx.request.json_object(inline_data=True)
    name, resolved, claude_name = await _model(ctx, body)
    chat = anthropic_messages.chat_body(body, name, for_counting=True)
    headers = _named({"X-Model": resolved.model.id, "X-Usage-Estimated": "true"}, claude_name)
    # `context_management` is required in the beta shape (Claude Code's `?beta=true`); nothing manages context here.
    return json_response({"input_tokens": pricing.prompt_of(chat).estimate(), "context_management": None}, headers=headers)


async def _model_list(ctx: Context) -> tuple[list[dict], str]:
    entries, source = await _entries(ctx)
    chat_models = [anthropic_models.model_info(model_id, model_id) for model_id, entry in entries.items()
                   if entry.get("task") == CHAT]
    return anthropic_models.claude_entries(ctx.settings.anthropic_model_map) + chat_models, source


async def list_models(ctx: Context):
    """GET /v1/models: Anthropic's list shape for a request with `anthropic-version`, else OpenAI's."""
    request = ctx.request
    if VERSION_HEADER not in request.headers:
        return await openai_list_models(ctx)
    entries, source = await _model_list(ctx)
    listed = anthropic_models.page(entries, limit=request.query_value("limit"), after_id=request.query_value("after_id"),
                                   before_id=request.query_value("before_id"))
    return json_response(listed, headers={"X-Catalog-Source": source, "request-id": request_id()})


async def retrieve_model(ctx: Context, model: str):
    if VERSION_HEADER not in ctx.request.headers:
        return await openai_retrieve_model(ctx, model)
    entries, _ = await _model_list(ctx)
    for entry in entries:
        if entry["id"] == model:
            return json_response(entry, headers={"request-id": request_id()})
    target = anthropic_models.mapped_model(model, ctx.settings.anthropic_model_map)
    if target is not None:  # a Claude name of a mapped family, dated or not
        return json_response(anthropic_models.model_info(model, f"{model} (answered by {target})"),
                             headers={"request-id": request_id()})
    raise not_found(f"model: {model}", code="model_not_found", param="model")
