"""JS strings Python holds without copying them: a string boxed in a JS array (it would be copied
into a Python str the moment it crossed), JS String objects, slices, lengths and widths read in JS."""

from __future__ import annotations

import js
from pyodide.ffi import JsProxy, to_js


def boxed(getter: JsProxy) -> JsProxy:
    """`[getter()]`, called and kept on the JS side: a primitive JS string it returns would be copied
    into a Python str the moment it crossed; in an array it stays there. `getter` runs from
    Array.prototype.map, so it must ignore extra arguments."""
    return js.Array.of(None).map(getter)


def js_string(getter: JsProxy) -> JsProxy:
    """A JS String object holding what `getter()` returns: a reference Python can hold and pass on.
    JSON.stringify (the AI binding's, Response.json's) writes it as the string it wraps."""
    return js.Reflect.construct(js.String, boxed(getter))


def boxed_length(box: JsProxy) -> int:
    """The length of the string a `boxed` array holds, read without it crossing."""
    return int(js.Reflect.construct(js.String, box).length)


def bound_slice(box: JsProxy, start: int, end: int) -> JsProxy:
    """A function returning the slice [start, end) of the boxed string (V8 shares its memory)."""
    return js.Reflect.apply(js.Function.prototype.bind, js.String.prototype.slice, box.concat(to_js([start, end])))


def slice_text(box: JsProxy, start: int, end: int | None = None) -> str:
    """The slice [start, end) of the boxed string, as a Python str."""
    bounds = [start] if end is None else [start, end]
    return js.Reflect.apply(js.Function.prototype.call, js.String.prototype.slice, box.concat(to_js(bounds)))


# A surrogate (a character outside the BMP) makes the Python str 4 bytes a character; anything
# above U+00FF, 2. Made on first use: no JS object may exist at import (production's snapshot).
_WIDTH_TESTS: list = []


def utf8_width(box: JsProxy) -> int:
    """heap.utf8_width for the boxed JS string, read in JS."""
    if not _WIDTH_TESTS:
        for pattern in ("[\\uD800-\\uDFFF]", "[^\\x00-\\xFF]"):
            expression = js.RegExp.new(pattern)
            _WIDTH_TESTS.append(expression.test.bind(expression))
    astral, wide = _WIDTH_TESTS
    if box.some(astral):
        return 4
    return 2 if box.some(wide) else 1
