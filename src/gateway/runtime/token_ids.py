"""Token ids of a JSON body (`input` of embeddings, `prompt` of completions) left in the JS array
JSON.parse made, and decoded to text in JS with a vocabulary built once per isolate."""

from __future__ import annotations

import js
from pyodide.ffi import JsException, JsProxy, to_js

from .. import tokens
from ..platform import TokenIds
from .strings import bound_slice, boxed


def token_ids(box: JsProxy, start: int, end: int) -> "JsTokenIds | None":
    """The array at [start, end) of the body, parsed in JS; None (left to Python) unless it holds safe
    integers only, or arrays of them only."""
    try:
        values = boxed(bound_slice(box, start, end)).map(js.JSON.parse)[0]
    except JsException:
        return None  # not JSON after all: Python's parser says where
    if values.length == 0:
        return None
    if values.every(js.Number.isSafeInteger):
        return JsTokenIds(values, None, int(values.length))
    if values.every(js.Array.isArray):
        flat = values.flat()
        if flat.every(js.Number.isSafeInteger):
            return JsTokenIds(values, int(values.length), int(flat.length))
    return None


_vocabulary: JsProxy | None = None


def _token_lookup() -> JsProxy:
    """A JS function id → the token's text (a JS string), or its bytes (a Uint8Array) for a token
    that is not text on its own, or undefined. Built once per isolate from `tokens.table()`, whose
    tokens are each followed by a separator: one TextDecoder call and one split make all the
    strings, then ~800 crossings the byte arrays (~4 MB of JS heap)."""
    global _vocabulary
    if _vocabulary is None:
        data, offsets = tokens.table()
        count, skip = len(offsets) - 1, len(tokens.SEPARATOR)
        raw = to_js(memoryview(data))
        decoder = js.TextDecoder.new()
        text = boxed(decoder.decode.bind(decoder, raw.subarray(count)))
        words = js.Reflect.apply(js.Function.prototype.call, js.String.prototype.split,
                                 text.concat(to_js([tokens.SEPARATOR.decode()])))
        words.length = count  # the split's last piece is the empty one after the last separator
        for token in tokens.not_text():
            js.Reflect.set(words, token, raw.subarray(offsets[token], offsets[token + 1] - skip))
        for token, special in tokens.SPECIAL.items():
            js.Reflect.set(words, token, special)
        _vocabulary = js.Reflect.get.bind(js.Reflect, words)
    return _vocabulary


class JsTokenIds(TokenIds):
    """Token ids of a body, left in the JS array JSON.parse made: decoded in JS (a Blob of the tokens'
    texts and bytes, read as UTF-8), so Python holds no int per id and no bytes, only the text."""

    def __init__(self, values: JsProxy, sequences: int | None, ids: int):
        self._values, self.sequences, self.ids = values, sequences, ids

    async def texts(self, param: str, max_bytes: int) -> list[str]:
        lookup = _token_lookup()
        arrays = [self._values] if self.sequences is None else list(self._values)
        blobs, size = [], 0
        for ids in arrays:
            parts = ids.map(lookup)
            bad = int(parts.indexOf(None))
            if bad >= 0:
                raise tokens.unknown_token(int(ids[bad]), param)
            blob = js.Blob.new(parts)
            size += int(blob.size)
            if size > max_bytes:
                raise tokens.text_too_long(param)
            blobs.append(blob)
        return [await blob.text() for blob in blobs]
