"""The Workers AI binding (`env.AI`) with Python values in and out: inputs as plain JS objects, a
streamed answer as a `JsReadableStream`, a non-streamed one checked for size before it crosses."""

from __future__ import annotations

import re

import js
from pyodide.ffi import JsException, JsProxy

from ..errors import UpstreamError
from .ffi import is_js_proxy, js_object, unwrap
from .streams import JsReadableStream
from .strings import boxed_length
from .vectors import JsVectors

_AI_ERROR_CODE = re.compile(r"\b(\d{4})\b")


def _is_readable_stream(value) -> bool:
    return is_js_proxy(value) and getattr(value, "getReader", None) is not None


class WorkersAi:
    """`env.AI` with Python values in and out."""

    def __init__(self, binding: JsProxy, gateway: dict | None = None):
        self._binding = binding
        # The AI Gateway settings every call is routed through (Settings.ai_gateway; MeteredAi adds them).
        self.gateway = gateway

    async def run(self, model: str, inputs: dict, options: dict | None = None, *, vectors_key: str | None = None):
        try:
            if options:
                result = await self._binding.run(model, js_object(inputs), js_object(options))
            else:
                result = await self._binding.run(model, js_object(inputs))
        except JsException as exc:
            message = str(exc)
            found = _AI_ERROR_CODE.search(message)
            raise UpstreamError(message, int(found.group(1)) if found else None) from None
        result = unwrap(result)
        if _is_readable_stream(result):
            return JsReadableStream(result)
        if is_js_proxy(result):
            if vectors_key:
                return _with_vectors(result, vectors_key)
            _check_answer_size(result)
            return result.to_py()
        return result

    async def models(self, params: dict | None = None) -> list:
        try:
            result = await self._binding.models(js_object(params or {}))
        except JsException as exc:
            raise UpstreamError(str(exc)) from None
        result = unwrap(result)
        return result.to_py() if is_js_proxy(result) else result


# A non-streamed answer converted into Python objects: a chat answer of the longest output any model
# gives is well under 1 MB, a generated image or speech as base64 a few MB.
MAX_ANSWER_CHARS = 8 * 1024 * 1024


def _check_answer_size(result: JsProxy) -> None:
    """Refuses (UpstreamError) an answer whose JSON is longer than MAX_ANSWER_CHARS before any of it
    becomes Python objects: measured in JS (a String object of its JSON, so the text never crosses)."""
    try:
        size = boxed_length(js.Array.of(result).map(js.JSON.stringify))
    except JsException:
        return  # not JSON (no such answer is known): to_py decides
    if size > MAX_ANSWER_CHARS:
        raise UpstreamError(f"the model's answer is {size} characters of JSON, more than the gateway relays ({MAX_ANSWER_CHARS})")


def _with_vectors(result: JsProxy, key: str):
    """result.to_py(), except that an array at `key` stays in JS as `JsVectors`."""
    items = getattr(result, key, None)
    if not (is_js_proxy(items) and js.Array.isArray(items)):
        return result.to_py()
    out = {}
    for name in js.Object.keys(result):
        if name != key:
            value = getattr(result, name)
            out[name] = value.to_py() if is_js_proxy(value) else value
    out[key] = JsVectors(items)
    return out
