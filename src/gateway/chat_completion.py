"""A non-streamed Workers AI text-generation result (either shape) as OpenAI's `chat.completion`:
content, tool calls, reasoning, usage (reported or estimated) and the finish reason.

Workers AI answers in two shapes: older models `{response, usage, tool_calls}`, newer ones OpenAI's
`choices`.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from . import ids
from .chat_request import ChatRequest
from .chat_stops import cut_at_stop
from .errors import QueuedError, UpstreamError


def estimate_tokens(text: str) -> int:
    """A rough count (about four characters a token) for when the model reports none."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def new_completion_id() -> str:
    return "chatcmpl-" + ids.hex_id(24)


def openai_tool_calls(raw_calls) -> list[dict]:
    """Tool calls in OpenAI's shape, from either Workers AI shape."""
    calls = []
    for i, call in enumerate(raw_calls or []):
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else call
        arguments = function.get("arguments", {})
        calls.append(
            {
                "id": call.get("id") or f"call_{ids.hex_id(16)}",
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False),
                },
            }
        )
    return calls


def completion_usage(raw, request: "ChatRequest", completion: Callable[[], str]) -> tuple[dict, bool]:
    """The model's token counts when it gave them; otherwise an estimate, marked as one (the
    prompt's and the answer's text are only made for an estimate)."""
    if isinstance(raw, dict) and isinstance(raw.get("prompt_tokens"), int) and isinstance(raw.get("completion_tokens"), int):
        usage = {
            "prompt_tokens": raw["prompt_tokens"],
            "completion_tokens": raw["completion_tokens"],
            "total_tokens": raw.get("total_tokens") or raw["prompt_tokens"] + raw["completion_tokens"],
        }
        return usage, False
    prompt_tokens, completion_tokens = estimate_tokens(request.prompt_text()), estimate_tokens(completion())
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "estimated": True,
    }
    return usage, True


def choose_finish_reason(request: ChatRequest, reported, tool_calls, usage: dict, stopped: bool) -> str:
    if tool_calls:
        return "tool_calls"
    if stopped:
        return "stop"
    if reported in ("stop", "length", "tool_calls", "content_filter"):
        return reported
    if request.max_tokens and usage.get("completion_tokens", 0) >= request.max_tokens:
        return "length"
    return "stop"


def completion(result: Any, request: ChatRequest, *, created: int) -> dict:
    """A `chat.completion` object from a non-streamed Workers AI result (either shape)."""
    if not isinstance(result, dict):
        raise UpstreamError(f"unexpected result type {type(result).__name__}")
    reported = None
    reasoning = None
    if isinstance(result.get("request_id"), str) and not result.get("choices") and "response" not in result:
        # Workers AI queued the call (its async answer) instead of answering it.
        raise QueuedError(f"the model queued the request (async request_id {result['request_id']}) instead of answering")
    if isinstance(result.get("choices"), list) and result["choices"]:
        choice = result["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
        if content is None and isinstance(choice.get("text"), str):
            # The `text_completion` output variant (qwen3): choices[0].text.
            content = choice["text"]
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        raw_calls = message.get("tool_calls")
        reported = choice.get("finish_reason")
    elif "response" in result or "tool_calls" in result:
        content = result.get("response")
        raw_calls = result.get("tool_calls")
    else:
        raise UpstreamError("result has neither `choices` nor `response`")
    if content is not None and not isinstance(content, (str, dict, list)):
        # Not text: a JS null that the production runtime's Pyodide hands over as a JsNull proxy
        # (`{response: null, tool_calls}`), which must not become the text "null".
        content = None
    if content is not None and not isinstance(content, str):
        # JSON mode: some models hand back the parsed object.
        content = json.dumps(content, ensure_ascii=False)
    tool_calls = openai_tool_calls(raw_calls)
    content, matched = cut_at_stop(content or "", request.stop)
    stopped = matched is not None
    usage, _ = completion_usage(result.get("usage"), request, lambda: content)
    # `refusal` is required (null when the model did not refuse): Workers AI models never say they do.
    message_out: dict[str, Any] = {"role": "assistant", "content": None if tool_calls and not content else content,
                                   "refusal": None}
    if reasoning:
        message_out["reasoning_content"] = reasoning
    if tool_calls:
        message_out["tool_calls"] = tool_calls
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": created,
        "model": request.model.id,
        "choices": [
            {
                "index": 0,
                "message": message_out,
                "logprobs": None,
                "finish_reason": choose_finish_reason(request, reported, tool_calls, usage, stopped),
            }
        ],
        "usage": usage,
    }
