"""Crossing the FFI: telling JS proxies from Python values, unwrapping the SDK's wrappers, and
Python dicts made into the plain JS objects bindings expect."""

from __future__ import annotations

import js
from pyodide.ffi import JsProxy, to_js

from ..platform import MultipartForm


def _multipart(form: MultipartForm) -> JsProxy:
    """`{body, contentType}` for a multipart input: the FormData serialised by the runtime's own
    Response (which also writes the boundary into the content type)."""
    data = js.FormData.new()
    for name, item in form.fields.items():
        if isinstance(item, (bytes, bytearray)):
            data.append(name, js.Blob.new(to_js([to_js(bytes(item))])), name)
        elif is_js_proxy(item):  # bytes the runtime holds (an input image's Uint8Array)
            data.append(name, js.Blob.new(js.Array.of(item)), name)
        else:
            data.append(name, str(item))
    encoded = js.Response.new(data)
    return to_js({"body": encoded.body, "contentType": encoded.headers.get("content-type")}, dict_converter=js.Object.fromEntries)


def js_object(value: dict) -> JsProxy:
    # A plain to_js(dict) makes a JS Map, which bindings serialise as {}. JS values inside (the
    # String objects of `strings.js_string`) are passed as they are, at any depth.
    plain = {key: _multipart(item) if isinstance(item, MultipartForm) else item for key, item in value.items()}
    return to_js(plain, dict_converter=js.Object.fromEntries)


_IS_JS_PROXY: dict[type, bool] = {}


def is_js_proxy(value) -> bool:
    """isinstance(value, JsProxy), remembered per type: Pyodide answers that isinstance in Python
    (a metaclass reading type flags, ~3 µs on Pyodide 314), and its answer depends on the type alone."""
    kind = type(value)
    try:
        return _IS_JS_PROXY[kind]
    except KeyError:
        answer = _IS_JS_PROXY[kind] = isinstance(value, JsProxy)
        return answer


def unwrap(value):
    """The JS object behind an SDK wrapper (modern runtime), or the value itself."""
    if is_js_proxy(value):
        return value  # already the JS object (legacy runtime): no property lookups across the FFI
    for attr in ("js_object", "_binding", "_env"):
        inner = getattr(value, attr, None) if not isinstance(value, (str, bytes, int, float)) else None
        if inner is not None:
            return inner
    return value


def is_null(value) -> bool:
    # JS null/undefined arrive as None, or as a JsNull proxy on newer Pyodide.
    return value is None or type(value).__name__ == "JsNull"
