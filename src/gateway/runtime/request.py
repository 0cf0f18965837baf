"""The JS request as the core's `Request`: headers read from JS only when the core asks, the body
behind `JsBody`, and whether the client has gone from the request's abort signal."""

from __future__ import annotations

from pyodide.ffi import JsProxy

from ..http import Headers, Request
from .body import JsBody
from .ffi import is_null


class JsHeaders(Headers):
    """The request's headers, each read from the JS Headers object when the core first asks for
    it: a request needs four or five (authorization, content-type, content-length, origin), and
    copying all of them pair by pair cost ~20 µs of FFI crossings."""

    def __init__(self, handle: JsProxy):
        self._handle = handle
        self._cache: dict[str, str | None] = {}

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower()
        try:
            value = self._cache[key]
        except KeyError:
            value = self._handle.get(key)
            value = self._cache[key] = None if is_null(value) else value
        return default if value is None else value

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def items(self):
        return [(pair[0], pair[1]) for pair in self._handle.entries()]


def _abort_signal(js_request: JsProxy):
    """`() -> bool`: whether the client has gone (the request's abort signal fired). Production
    turns the signal on with the `enable_request_signal` compatibility flag; where a runtime has
    no such signal it never fires. The signal is looked up at the first question, not for every
    request (a request that runs no model never asks)."""
    found: list = []

    def client_gone() -> bool:
        if not found:
            signal = getattr(js_request, "signal", None)
            found.append(None if signal is None or is_null(signal) else signal)
        return found[0] is not None and bool(found[0].aborted)

    return client_gone


def core_request(js_request: JsProxy) -> Request:
    headers = JsHeaders(js_request.headers)
    return Request(js_request.method, js_request.url, headers, JsBody(js_request, headers),
                   client_gone=_abort_signal(js_request))
