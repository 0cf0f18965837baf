"""OpenAI's legacy `POST /v1/completions` as a conversion of chat completions.

The prompt becomes one user message and the chat pipeline does the rest (model
resolution, parameters, stops, streaming, errors); its answer and its chunks are
re-shaped into `text_completion` objects. Workers AI's chat models are instruction
models, so the answer is a reply to the prompt rather than a raw continuation.
"""

from __future__ import annotations

import json
from typing import AsyncIterable, AsyncIterator

from . import ids
from .errors import bad_request
from .sse import DONE, encode_event

# Passed to the chat pipeline as they are; everything else OpenAI defines for completions is refused or ignored below.
_SHARED = ("model", "max_tokens", "temperature", "top_p", "seed", "frequency_penalty", "presence_penalty", "stop", "n",
           "stream", "stream_options", "user")


def prompt_text(body: dict) -> str:
    """The one prompt of a request: a string or a list holding one string (token ids are decoded
    before, `tokens.decode_ids`)."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, list):
        raise bad_request("Send one prompt per request (`prompt` as a string): Workers AI returns one choice.", param="prompt")
    if not isinstance(prompt, str) or not prompt:
        raise bad_request("`prompt` is required: a non-empty string.", param="prompt")
    return prompt


def chat_body(body: dict, prompt: str) -> dict:
    """The chat request that answers this completions request."""
    logprobs = body.get("logprobs")
    if logprobs not in (None, 0, False):
        raise bad_request("`logprobs` is not supported: Workers AI models return no log probabilities.", param="logprobs")
    if body.get("best_of") not in (None, 1):
        raise bad_request("Only `best_of: 1` is supported: Workers AI returns one choice.", param="best_of")
    if body.get("echo") is not None and not isinstance(body["echo"], bool):
        raise bad_request("`echo` must be true or false.", param="echo")
    chat = {name: body[name] for name in _SHARED if name in body}
    chat["messages"] = [{"role": "user", "content": prompt}]
    return chat


def new_id() -> str:
    return "cmpl-" + ids.hex_id(24)


def text_completion(chat: dict, *, echo: str = "") -> dict:
    """A `text_completion` object from a `chat.completion` object."""
    choice = chat["choices"][0]
    return {
        "id": new_id(),
        "object": "text_completion",
        "created": chat["created"],
        "model": chat["model"],
        "choices": [{"text": echo + (choice["message"].get("content") or ""), "index": 0, "logprobs": None,
                     "finish_reason": choice.get("finish_reason") or "stop"}],
        "usage": chat.get("usage"),
    }


async def text_completion_chunks(chat_events: AsyncIterable[str], *, echo: str = "") -> AsyncIterator[str]:
    """The chat pipeline's SSE events (`data: <chat.completion.chunk>`) re-shaped as `text_completion` chunks.

    The role chunk and reasoning chunks have no counterpart and are dropped; an error event and `[DONE]` pass as they are.
    """
    completion_id = new_id()
    pending_echo = echo
    async for event in chat_events:
        payload = event[6:].rstrip("\n") if event.startswith("data: ") else event
        if payload == DONE:
            yield event
            return
        chunk = json.loads(payload)
        if "error" in chunk:
            yield event
            return
        base = {"id": completion_id, "object": "text_completion", "created": chunk["created"], "model": chunk["model"]}
        if not chunk["choices"]:  # the usage chunk
            yield encode_event({**base, "choices": [], "usage": chunk.get("usage")})
            continue
        choice = chunk["choices"][0]
        text = choice["delta"].get("content") or ""
        finish = choice.get("finish_reason")
        if not text and finish is None and not pending_echo:
            continue
        yield encode_event({**base, "choices": [{"text": pending_echo + text, "index": 0, "logprobs": None,
                                                 "finish_reason": finish}]})
        pending_echo = ""
