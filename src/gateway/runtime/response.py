"""The core's response as a JS `Response`: bytes or text, JSON serialised by the runtime, a stream
pumped from a Python iterator, a runtime stream handed on, or a model's stream through the relay."""

from __future__ import annotations

import asyncio

import js
from pyodide.ffi import JsProxy, to_js

from ..http import JsonResponse, PassthroughResponse, RelayResponse, Response, StreamResponse
from .ffi import is_js_proxy, js_object, unwrap
from .relay import relay_body


def _js_init(status: int, headers: dict[str, str]) -> JsProxy:
    # One conversion: the converter applies to the nested headers dict too.
    return js_object({"status": status, "headers": headers})


def _stream_body(chunks, on_close=None) -> JsProxy:
    """A JS ReadableStream fed from a Python async iterator, chunk by chunk as produced."""
    pipe = js.TransformStream.new()
    writer = pipe.writable.getWriter()
    encoder = js.TextEncoder.new()

    async def pump():
        try:
            async for chunk in chunks:
                # A JS String (an image's base64) is encoded on the JS side, never copied into Python.
                await writer.write(encoder.encode(chunk) if isinstance(chunk, str) or is_js_proxy(chunk) else to_js(chunk))
            await writer.close()
        except Exception as exc:  # the client sees a cut stream, the log sees why
            print(f"stream aborted: {type(exc).__name__}: {exc}")
            await writer.abort(str(exc))
        finally:
            if on_close is not None:
                on_close()

    asyncio.ensure_future(pump())
    return pipe.readable


def js_response(response) -> JsProxy:
    if isinstance(response, StreamResponse):
        body = _stream_body(response.chunks, response.on_close)
    elif isinstance(response, RelayResponse):
        body = relay_body(unwrap(response.source.handle), response.relay, response.idle_seconds, response.on_close)
    elif isinstance(response, PassthroughResponse):
        body = unwrap(response.body)
    elif isinstance(response, Response):
        body = response.body if isinstance(response.body, str) else (to_js(response.body) if response.body else None)
    elif isinstance(response, JsonResponse):
        # Serialised by the runtime: JS values inside (embedding vectors) never cross into Python.
        return js.Response.json(js_object(response.data), _js_init(response.status, response.headers))
    else:
        raise TypeError(f"handler returned {type(response).__name__}, not a response")
    if response.status in (101, 204, 205, 304):
        body = None
    return js.Response.new(body, _js_init(response.status, response.headers))
