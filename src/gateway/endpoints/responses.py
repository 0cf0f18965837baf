"""POST /v1/completions (legacy) and POST /v1/responses: conversions around the chat endpoint.

Each request is converted into a chat request and answered by the chat endpoint
itself (model resolution, parameters, streaming, errors, whatever it learns later),
then its answer or its chunk stream is re-shaped. Nothing of the chat pipeline is
repeated here.
"""

from __future__ import annotations

import json
from typing import AsyncIterator

from .. import completions, responses
from ..chat_stream import relay_events
from ..http import Headers, PassthroughResponse, RelayResponse, Request, Response, StreamResponse, json_response
from ..platform import Context
from ..sse import sse_payloads
from ..tokens import decode_ids
from .chat import chat_completions
from .common import idle_timeout


class _JsonBody:
    """The converted chat body, handed over parsed: no JSON text of it is made (a 10 MB image in it
    would be copied twice), and the runtime's images stay in it as they are."""

    def __init__(self, data: dict):
        self.parsed = data

    async def read_bytes(self, max_bytes: int) -> bytes:
        # The client's body already passed this route's limits; the converted one is no larger in kind.
        return json.dumps(self.parsed, ensure_ascii=False).encode("utf-8")

    async def read_form(self, max_bytes: int):  # pragma: no cover - a JSON body is never read as a form
        raise NotImplementedError


async def via_chat(ctx: Context, chat: dict):
    """The chat endpoint's answer to `chat`, as if the client had sent it to /v1/chat/completions."""
    original = ctx.request
    headers = Headers([(k, v) for k, v in original.headers.items() if k not in ("content-type", "content-length")]
                      + [("content-type", "application/json")])
    request = Request("POST", f"{original.origin}/v1/chat/completions", headers, _JsonBody(chat))
    return await chat_completions(Context(request, ctx.platform))


_STREAMS = (StreamResponse, RelayResponse, PassthroughResponse)


async def _chat_events(answer, idle_seconds: float) -> AsyncIterator[str]:
    """The chat stream's SSE events, read in Python whichever way the chat endpoint relays it."""
    if isinstance(answer, StreamResponse):
        async for event in answer.chunks:
            yield event
    elif isinstance(answer, RelayResponse):
        async for event in relay_events(idle_timeout(answer.source, idle_seconds), answer.relay):
            yield event
    else:  # pass-through: the model's own OpenAI chunks
        async for payload in sse_payloads(idle_timeout(answer.source, idle_seconds)):
            yield f"data: {payload}\n\n"


def _stream_headers(answer) -> dict[str, str]:
    # These streams are always re-shaped in Python, whichever path the chat stream took.
    return {k: v for k, v in answer.headers.items() if k != "X-Stream-Relay"}


def _model_headers(answer) -> dict[str, str]:
    return {k: v for k, v in answer.headers.items() if k.lower() != "content-type" and k.lower() != "content-length"}


async def create_completion(ctx: Context):
    body = await ctx.request.json_object(inline_data=True)
    body["prompt"] = await decode_ids(body.get("prompt"), "prompt")
    prompt = completions.prompt_text(body)
    echo = prompt if body.get("echo") is True else ""
    answer = await via_chat(ctx, completions.chat_body(body, prompt))
    if isinstance(answer, _STREAMS):
        return StreamResponse(completions.text_completion_chunks(_chat_events(answer, ctx.settings.ai_timeout_seconds), echo=echo), answer.status, _stream_headers(answer))
    if isinstance(answer, Response) and answer.status == 200:
        return json_response(completions.text_completion(json.loads(answer.body), echo=echo), headers=_model_headers(answer))
    return answer


async def create_response(ctx: Context):
    body = await ctx.request.json_object(inline_data=True)
    answer = await via_chat(ctx, responses.chat_body(body))
    if isinstance(answer, _STREAMS):
        model = answer.headers.get("X-Model") or str(body.get("model"))
        return StreamResponse(responses.response_events(_chat_events(answer, ctx.settings.ai_timeout_seconds), body, model), answer.status, _stream_headers(answer))
    if isinstance(answer, Response) and answer.status == 200:
        return json_response(responses.response_object(json.loads(answer.body), body), headers=_model_headers(answer))
    return answer
