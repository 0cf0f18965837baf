"""OpenAI chat completion requests checked and turned into Workers AI text-generation inputs:
messages and their parts (images only for vision models), sampling numbers, stop strings, response
format, tools and streaming."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import openai_params
from .catalog import Model
from .errors import bad_request
from .platform import is_blob

ROLES = {"system", "developer", "user", "assistant", "tool"}
# The checked numbers (openai_params.CHAT) that the model is given as they are.
_MODEL_PARAMETERS = ("temperature", "top_p", "top_k", "seed", "frequency_penalty", "presence_penalty", "repetition_penalty")


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")
    return ""


def _message(raw, index: int, model: Model) -> dict:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise bad_request(f"`{where}` must be an object.", param=where)
    role = raw.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise bad_request(f"`{where}.role` must be one of {', '.join(sorted(ROLES))}.", param=f"{where}.role")
    content = raw.get("content")
    if content is None:
        if not (role == "assistant" and raw.get("tool_calls")):
            content = ""
    elif isinstance(content, list):
        content = _parts(content, where, model)
    elif not isinstance(content, str):
        raise bad_request(f"`{where}.content` must be a string or an array of parts.", param=f"{where}.content")
    # Workers AI models know no "developer" role; it is OpenAI's new name for system.
    message: dict[str, Any] = {"role": "system" if role == "developer" else role, "content": content}
    for key in ("name", "tool_call_id", "tool_calls"):
        if raw.get(key) is not None:
            message[key] = raw[key]
    return message


def _parts(parts: list, where: str, model: Model):
    has_image = False
    for i, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            continue
        if kind == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if not (isinstance(url, str) and url) and not is_blob(url):
                raise bad_request(f"`{where}.content[{i}].image_url.url` must be a URL.", param=f"{where}.content")
            has_image = True
            continue
        raise bad_request(
            f"`{where}.content[{i}]` must be a text or image_url part.", param=f"{where}.content"
        )
    if not has_image:
        # Text-only parts become one string: every Workers AI chat model takes that.
        return _text_of(parts)
    if "vision" not in model.capabilities:
        raise bad_request(
            f"'{model.id}' does not accept images; use a vision model such as @cf/meta/llama-4-scout-17b-16e-instruct.",
            param=f"{where}.content", code="model_not_multimodal",
        )
    return parts


@dataclass
class ChatRequest:
    model: Model
    inputs: dict
    stream: bool = False
    include_usage: bool = False
    stop: list[str] = field(default_factory=list)
    max_tokens: int | None = None
    # Tool-call ids rewritten for the model's contract → the client's own (chat_contract).
    ids_back: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, body: dict, model: Model) -> "ChatRequest":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise bad_request("`messages` must be a non-empty array.", param="messages")
        inputs: dict[str, Any] = {"messages": [_message(m, i, model) for i, m in enumerate(messages)]}

        values = openai_params.checked(body, openai_params.CHAT)
        max_tokens = values.get("max_completion_tokens", values.get("max_tokens"))
        if max_tokens is not None:
            inputs["max_tokens"] = max_tokens
        for name in _MODEL_PARAMETERS:
            if name in values:
                inputs[name] = values[name]
        if values.get("n", 1) != 1:
            raise bad_request("Only `n: 1` is supported: Workers AI returns one choice.", param="n")

        stop = body.get("stop")
        if stop is None:
            stops = []
        elif isinstance(stop, str):
            stops = [stop]
        elif isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop):
            stops = list(stop)
        else:
            raise bad_request("`stop` must be a string or an array of up to 4 strings.", param="stop")

        response_format = body.get("response_format")
        if response_format is not None:
            if not isinstance(response_format, dict) or response_format.get("type") not in ("text", "json_object", "json_schema"):
                raise bad_request("`response_format.type` must be text, json_object or json_schema.", param="response_format")
            if response_format["type"] != "text":
                inputs["response_format"] = response_format

        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
                raise bad_request("`tools` must be an array of tool objects.", param="tools")
            if tools:
                inputs["tools"] = tools
                if body.get("tool_choice") is not None:
                    inputs["tool_choice"] = body["tool_choice"]

        stream = body.get("stream")
        if stream is None:
            stream = False  # null is OpenAI's default, as if unset
        if not isinstance(stream, bool):
            raise bad_request("`stream` must be true or false.", param="stream")
        if stream:
            inputs["stream"] = True
        options = body.get("stream_options")
        include_usage = bool(stream and isinstance(options, dict) and options.get("include_usage"))
        return cls(model, inputs, stream, include_usage, [s for s in stops if s], max_tokens)

    def prompt_text(self) -> str:
        return "\n".join(_text_of(m.get("content")) for m in self.inputs["messages"])

