"""The request body, read only as far as the route's limit: bytes, UTF-8 text (values counted and
heap admitted before the text is made), JSON with its long values left in JS, or a multipart form."""

from __future__ import annotations

import js
from pyodide.ffi import JsException, JsProxy

from .. import heap
from ..errors import bad_request
from ..http import Form, Headers, body_too_large
from ..limits import MAX_JSON_TEXT_CHARS, count_json_values, json_too_complex, text_too_long
from .buffers import JsFile
from .ffi import js_object
from .inline import HAS_ID_ARRAY, inline_data
from .streams import read_at_most
from .strings import boxed, boxed_length, utf8_width

_VALUE_COUNT_SLICE = 1024 * 1024


def _decoded(data: JsProxy) -> JsProxy:
    """The body's text, decoded as UTF-8 (400 when it is not), in a JS array: the string stays in JS
    until Python asks for it (`box[0]`), so its length can be checked first."""
    decoder = js.TextDecoder.new("utf-8", js_object({"fatal": True}))
    try:
        return boxed(decoder.decode.bind(decoder, data))
    except JsException:
        raise bad_request("The request body is not valid UTF-8.", code="invalid_encoding") from None


# Bytes of a large body counted at a time: a slice over the cap is counted exactly, with copies of
# it (a 1 MiB slice of `{},{},...` grew the production heap by 6 MiB; 256 KiB leaves it flat).
_COUNT_STEP = 256 * 1024


def _count_values(data: JsProxy, max_json_values: int) -> int:
    values = 0
    for start in range(0, int(data.length), _COUNT_STEP):
        values += count_json_values(data.subarray(start, start + _COUNT_STEP).to_bytes())
        if values > max_json_values:
            raise json_too_complex(max_json_values)
    return values


async def _small_text(raw: bytes, max_json_values: int | None, admit) -> str:
    values = 0
    if max_json_values is not None:
        values = count_json_values(raw)
        if values > max_json_values:
            raise json_too_complex(max_json_values)
    if admit is not None:
        await admit(heap.text_cost(len(raw), heap.utf8_width(raw), values))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("The request body is not valid UTF-8.", code="invalid_encoding") from None


class JsBody:
    """The request body, read only as far as the route's limit: with a Content-Length above it the
    app refuses before reading; without one it is read as a stream and abandoned at the limit."""

    def __init__(self, js_request: JsProxy, headers: Headers):
        self._js_request = js_request
        self._headers = headers  # the core's copy: a header it has read is not asked of JS again

    async def _read(self, max_bytes: int):
        request = self._js_request
        length = self._headers.get("content-length")
        if length and length.isdigit() and int(length) <= max_bytes:
            # The runtime delivers exactly Content-Length bytes.
            return js.Uint8Array.new(await request.arrayBuffer())
        data = await read_at_most(request.body, max_bytes)
        if data is None:
            raise body_too_large(None, max_bytes)
        return data

    async def read_bytes(self, max_bytes: int) -> bytes:
        return (await self._read(max_bytes)).to_bytes()

    async def read_text(self, max_bytes: int, max_json_values: int | None = None, admit=None) -> str:
        """UTF-8 decoded by the runtime: Python gets the str alone, not the bytes beside it. With
        `max_json_values`, a body holding more JSON values is refused (400) from 1 MiB slices, before
        its text is made: 15 MB of `{},{},...` no longer becomes a 15 MB str."""
        request = self._js_request
        length = self._headers.get("content-length")
        if length and length.isdigit() and int(length) <= min(max_bytes, _VALUE_COUNT_SLICE):
            # A small body (every chat, translate and embeddings request) in one crossing: its
            # bytes, counted and decoded in Python, instead of a Uint8Array, a slice, a TextDecoder
            # and its options each crossing the FFI (reading a chat body: 186 → 160 µs, legacy).
            return await _small_text((await request.arrayBuffer()).to_bytes(), max_json_values, admit)
        data = await self._read(max_bytes)
        values = _count_values(data, max_json_values) if max_json_values is not None else 0
        box = _decoded(data)
        size = boxed_length(box)
        if size > MAX_JSON_TEXT_CHARS:
            raise text_too_long(size, MAX_JSON_TEXT_CHARS)
        if admit is not None:
            await admit(heap.text_cost(size, utf8_width(box), values))
        return box[0]

    async def read_json_inline(self, max_bytes: int, max_json_values: int, admit=None) -> tuple[str, list]:
        """read_text, with each long base64 data: URL left in JS (`JsInlineData`) and a placeholder
        in its place: a 10 MB image in a chat body is never a Python str."""
        length = self._headers.get("content-length")
        if length and length.isdigit() and int(length) <= min(max_bytes, _VALUE_COUNT_SLICE):
            buffer = await self._js_request.arrayBuffer()
            raw = buffer.to_bytes()
            if not HAS_ID_ARRAY.search(raw):
                return await _small_text(raw, max_json_values, admit), []
            # Token ids: a 1 MiB body of them is 260 000 Python ints; they stay in JS instead.
            del raw
            data = js.Uint8Array.new(buffer)
        else:
            data = await self._read(max_bytes)
        values = _count_values(data, max_json_values)
        box = _decoded(data)
        return await inline_data(box, MAX_JSON_TEXT_CHARS, values, admit)

    async def read_form(self, max_bytes: int) -> Form:
        request = self._js_request
        try:
            length = self._headers.get("content-length")
            if length and length.isdigit() and int(length) <= max_bytes:
                form = await request.formData()
            else:
                data = await self._read(max_bytes)
                init = js_object({"headers": js_object({"content-type": self._headers.get("content-type") or ""})})
                form = await js.Response.new(data, init).formData()
        except JsException:
            raise bad_request("The form body is malformed (truncated or not multipart).", code="invalid_form") from None
        fields: dict[str, list[str]] = {}
        files: dict[str, JsFile] = {}
        for entry in form.entries():
            name, value = entry[0], entry[1]
            if isinstance(value, str):
                fields.setdefault(name, []).append(value)
            else:
                files.setdefault(name, JsFile(value))
        return Form(fields, files)
