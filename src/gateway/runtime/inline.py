"""A JSON body's long values left in JS: base64 data: URLs (`JsInlineData`) and token-id arrays
(`token_ids`), each replaced by a placeholder in the text Python parses."""

from __future__ import annotations

import base64
import re

import js
from pyodide.ffi import JsProxy

from .. import heap, tokens
from ..http import inline_placeholder
from ..limits import text_too_long
from .buffers import Base64Source, JsBuffer
from .ffi import is_null
from .strings import bound_slice, boxed_length, js_string, slice_text, utf8_width
from .token_ids import JsTokenIds, token_ids

# A base64 data: URL inside a JSON body, found by its head; the payload is then matched from there
# (one regex over 14 MB backtracked past V8's stack).
# Or the base64 `data` of an Anthropic image source (`"media_type": "image/png", "data": "..."`, in the
# order the SDKs write them): the value alone is replaced, and its data: URL made in JS.
_INLINE_HEAD = (r'"(data:[\w.+/-]{1,100}(?:;[\w=.+-]{1,100}){0,8};base64,)'
                r'|"media_type"\s*:\s*"(image/[\w.+-]{1,100})"\s*,\s*"data"\s*:\s*"')
_INLINE_PAYLOAD = r'[A-Za-z0-9+/]*(={0,2})"(?!\s*:)'
# Shorter data: URLs stay in the JSON text: each one found costs a few FFI crossings.
INLINE_MIN_CHARS = 64 * 1024
# Token ids (`input` of embeddings, `prompt` of completions): a long array of integers, or of arrays
# of integers, stays a JS array (`JsTokenIds`) instead of a Python int per id (300 000 ids: 11 MB of
# list and ints), and is decoded in JS. Found by its key, which cannot occur unescaped inside a JSON string.
_ID_ARRAY = r'"(?:input|prompt)"\s*:\s*(\[[\[\]0-9,\s]{4096,}\])'
HAS_ID_ARRAY = re.compile(rb'"(?:input|prompt)"\s*:\s*\[[\[\]0-9,\s]{4096,}\]')


class JsInlineData:
    """A base64 `data:` URL of a JSON body, left in the JS string of the body: the core sees its
    media type and size; the model gets a JS String of it (a slice of the body, no copy)."""

    def __init__(self, body: JsProxy, start: int, payload_start: int, end: int, head: str, padding: str,
                 prefix: str | None = None):
        # body: a JS array holding the body's JS string, so it never crosses. `prefix`: the data: URL's
        # head when the body holds the payload alone (an Anthropic image source).
        self._body = body
        self._prefix = prefix
        self._start, self._payload_start, self._end = start, payload_start, end
        self.content_type = head[5:].split(";", 1)[0].lower()
        payload = end - payload_start
        self.well_formed = payload % 4 == 0 and payload > 0
        self.size = payload // 4 * 3 - len(padding)

    def _text(self, start: int, end: int) -> str:
        """Characters [start, end) of the payload, in Python."""
        return slice_text(self._body, self._payload_start + start, self._payload_start + end)

    def data_url(self, content_type: str | None = None) -> JsProxy:
        """The URL as the client sent it (its declared type kept)."""
        sent = js_string(bound_slice(self._body, self._start, self._end))
        if self._prefix is None:
            return sent
        # prefix + payload joined in JS (Array.prototype.join ignores the extra arguments map passes).
        parts = js.Array.of(js.Array.of(self._prefix, sent), "")
        return js_string(js.Reflect.apply(js.Function.prototype.bind, js.Array.prototype.join, parts))

    async def base64(self):
        return js_string(bound_slice(self._body, self._payload_start, self._end))

    def _buffer(self) -> JsBuffer:
        return JsBuffer.from_base64(Base64Source(self._end - self._payload_start, self._text), self.content_type)

    async def read(self) -> bytes:
        return await self._buffer().read()

    def head(self, size: int) -> bytes:
        chars = min(self._end - self._payload_start, (size + 2) // 3 * 4) // 4 * 4
        return base64.b64decode(self._text(0, chars))[:size]

    def runtime_bytes(self) -> JsProxy:
        return self._buffer().runtime_bytes()

    async def byte_values(self):
        return await self._buffer().byte_values()


async def inline_data(box: JsProxy, max_chars: int, values: int, admit) -> tuple[str, list]:
    """The body's JSON text with each long base64 data: URL and each long array of token ids replaced
    by a placeholder string, and those values: the URLs left in JS (`JsInlineData`), the ids packed
    (`JsTokenIds`). A few crossings per value found, none per character. Refused (413) when what would
    remain for Python is longer than `max_chars`, before any of it crosses."""
    spans: list[tuple[int, int, object]] = []  # (first, after last) character replaced, and its value
    ids = js.RegExp.new(_ID_ARRAY, "gd")
    find_ids = ids.exec.bind(ids)
    while True:
        match = box.map(find_ids)[0]
        if is_null(match):
            break
        start, end = (int(i) for i in match.indices[1])
        kept_ids = token_ids(box, start, end)
        if kept_ids is not None:
            spans.append((start, end, kept_ids))
    head = js.RegExp.new(_INLINE_HEAD, "g")
    payload = js.RegExp.new(_INLINE_PAYLOAD, "y")
    find_head, match_payload = head.exec.bind(head), payload.exec.bind(payload)
    while True:
        match = box.map(find_head)[0]
        if is_null(match):
            break
        payload.lastIndex = head.lastIndex
        rest = box.map(match_payload)[0]
        if is_null(rest) or payload.lastIndex - head.lastIndex - 1 < INLINE_MIN_CHARS:
            continue
        # `match.index` would be the proxy's list method: the property is read through Reflect.
        start, payload_start, end = int(js.Reflect.get(match, "index")), int(head.lastIndex), int(payload.lastIndex) - 1
        media_type = js.Reflect.get(match, 2)
        if isinstance(media_type, str):  # an Anthropic source: its `data` string alone is replaced
            prefix = f"data:{media_type};base64,"
            spans.append((payload_start - 1, end + 1, JsInlineData(box, payload_start, payload_start, end, prefix,
                                                                   str(rest[1]), prefix)))
        else:
            spans.append((start, end + 1, JsInlineData(box, start + 1, payload_start, end, str(match[1]), str(rest[1]))))
        head.lastIndex = end + 1
    kept = boxed_length(box) - sum(end - start for start, end, _ in spans)
    if kept > max_chars:
        raise text_too_long(kept, max_chars)
    if admit is not None:
        found = [value for _, _, value in spans if isinstance(value, JsTokenIds)]
        ids = sum(value.ids for value in found)
        # Their text, at its most: 128 bytes an id (cl100k's longest token), capped, 4 bytes a character.
        decoded = 4 * min(tokens.MAX_TEXT_BYTES * len(found), tokens.MAX_ID_BYTES * ids)
        await admit(heap.text_cost(kept, utf8_width(box), max(0, values - ids)) + decoded)
    if not spans:
        return box[0], []
    spans.sort(key=lambda span: span[0])
    pieces: list[str] = []
    position = 0
    for index, (start, end, _) in enumerate(spans):
        pieces.append(slice_text(box, position, start))
        pieces.append(f'"{inline_placeholder(index)}"')
        position = end
    pieces.append(slice_text(box, position))
    return "".join(pieces), [value for _, _, value in spans]
