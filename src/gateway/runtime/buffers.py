"""Input bytes kept in JS: an uploaded `File`, a Uint8Array (a fetched image, an inline mask), and
base64 made or read a step at a time so the bytes never fill Python's heap."""

from __future__ import annotations

import base64

import js
from pyodide.ffi import JsProxy

from .strings import js_string

# Bytes per base64 step: a multiple of 3 (so chunks encode without padding) and small
# enough for Function.prototype.apply's argument limit.
_BASE64_CHUNK = 3 * 8192
_BASE64_BATCH = 64


class JsFile:
    """A `File` from the runtime's FormData; its bytes are read only when a model input needs them."""

    def __init__(self, handle: JsProxy):
        self._handle = handle
        self.filename = handle.name or ""
        self.content_type = handle.type or ""
        self.size = int(handle.size)

    async def read(self) -> bytes:
        return (await self._handle.arrayBuffer()).to_bytes()

    async def base64(self):
        """The file as base64, built and kept on the JS side (see `js_base64`)."""
        return js_base64(js.Uint8Array.new(await self._handle.arrayBuffer()))

    def stream(self):
        """The file's bytes as a runtime stream (nova-3's `audio.body`): never read into Python."""
        return self._handle.stream()

    async def byte_values(self):
        # Built on the JS side (Array.from), so no Python list of millions of ints.
        return js.Array.from_(js.Uint8Array.new(await self._handle.arrayBuffer()))


def js_base64(data, prefix: str = "") -> JsProxy:
    """Bytes (a JS Uint8Array) as base64 after `prefix`, built and kept on the JS side: a JS String
    object (`strings.js_string`) that JSON-serialises when the AI binding sends the inputs. Encoding in
    Python would grow Pyodide's WebAssembly memory by ~3.6x the bytes (bytes, base64 bytes, str),
    and that memory never shrinks: a 25 MB upload took it from 24 MB to 115 MB."""
    # fromCharCode.apply(null, bytes) → a binary string → btoa, each run by Array.map in JS;
    # a batch at a time, so the binary strings of only one batch are alive at once
    # (the V8 heap peak for 25 MB fell from 131.7 to 119.9 MiB).
    as_binary = js.Function.prototype.apply.bind(js.String.fromCharCode, None)
    encoded = js.Array.of(prefix) if prefix else js.Array.new()
    batch_bytes = _BASE64_CHUNK * _BASE64_BATCH
    for batch_start in range(0, data.length, batch_bytes):
        chunks = js.Array.new()
        for start in range(batch_start, min(data.length, batch_start + batch_bytes), _BASE64_CHUNK):
            chunks.push(data.subarray(start, start + _BASE64_CHUNK))
        js.Array.prototype.push.apply(encoded, chunks.map(as_binary).map(js.btoa))
    return js_string(js.Function.prototype.call.bind(js.Array.prototype.join, encoded, ""))


# Base64 characters decoded per step by `JsBuffer.from_base64` (a multiple of 4): Python holds
# one step's bytes at a time.
_BASE64_DECODE_STEP = 4 * 256 * 1024


class Base64Source:
    """Valid base64 text, read a slice at a time (a Python str, or a span of a JS string)."""

    def __init__(self, length: int, text):
        self.length = length
        self.text = text

    @classmethod
    def of(cls, payload: str) -> "Base64Source":
        return cls(len(payload), lambda start, end: payload[start:end])


class JsBuffer:
    """Input bytes (a fetched image, an inline mask) held in a JS Uint8Array, like `JsFile`."""

    def __init__(self, data: JsProxy, content_type: str = ""):
        self._data = data
        self.content_type = content_type
        self.size = int(data.length)

    @classmethod
    def from_base64(cls, payload: "str | Base64Source", content_type: str = "") -> "JsBuffer":
        """Decoded a step at a time: Python holds one step's text and bytes, never the image."""
        source = Base64Source.of(payload) if isinstance(payload, str) else payload
        tail = source.text(max(0, source.length - 2), source.length) if source.length else ""
        padding = 2 if tail.endswith("==") else 1 if tail.endswith("=") else 0
        data = js.Uint8Array.new(source.length // 4 * 3 - padding)
        offset = 0
        for start in range(0, source.length, _BASE64_DECODE_STEP):
            chunk = base64.b64decode(source.text(start, min(source.length, start + _BASE64_DECODE_STEP)))
            data.subarray(offset, offset + len(chunk)).assign(chunk)
            offset += len(chunk)
        return cls(data, content_type)

    async def read(self) -> bytes:
        return self._data.to_bytes()

    def head(self, size: int) -> bytes:
        return self._data.subarray(0, size).to_bytes()

    async def base64(self):
        return js_base64(self._data)

    def data_url(self, content_type: str) -> JsProxy:
        """`data:<type>;base64,...` as a JS String object, built from the bytes on the JS side."""
        return js_base64(self._data, f"data:{content_type};base64,")

    def runtime_bytes(self) -> JsProxy:
        return self._data

    async def byte_values(self):
        return js.Array.from_(self._data)
