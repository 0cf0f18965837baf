"""What the Anthropic client tests share: the models and inputs they send, and the Workers AI answers
(OpenAI-shaped completions and streams, errors) they script behind the emulator."""

from __future__ import annotations

import base64
import json
import time

from werkzeug.wrappers import Response

CHAT = "@cf/meta/llama-3.1-8b-instruct-fast"
OPENAI_SHAPED = "@cf/openai/gpt-oss-20b"
VISION = "@cf/meta/llama-4-scout-17b-16e-instruct"
REASONING = "@cf/qwen/qwen3.8-27b"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")
WEATHER = {"name": "get_weather", "description": "Current weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def image_block(data: bytes = PNG) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(data).decode()}}


def ai_error(code: int, message: str, status: int) -> Response:
    return Response(json.dumps({"success": False, "errors": [{"code": code, "message": message}]}), status,
                    content_type="application/json")


def _chunk(model: str, delta: dict, finish_reason=None, usage=None) -> dict:
    event = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
    if usage:
        event["usage"] = usage
    return event


def openai_stream(model: str, deltas: list[dict], finish: str, usage: dict) -> Response:
    """An OpenAI-shaped model's stream: one chunk per delta, then the finish reason with the usage."""
    events = [_chunk(model, delta) for delta in deltas] + [_chunk(model, {}, finish, usage)]
    return Response("".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n",
                    content_type="text/event-stream")


def openai_completion(model: str, message: dict, finish: str, usage: dict) -> Response:
    return Response(json.dumps({"id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()),
                                "model": model, "usage": usage,
                                "choices": [{"index": 0, "message": {"role": "assistant", "refusal": None, **message},
                                             "logprobs": None, "finish_reason": finish}]}),
                    content_type="application/json")
