"""Remote images (an `image_url` for img2img) through the runtime's `fetch`, every hop checked by
the fetch policy, the body kept in JS and abandoned at the size limit."""

from __future__ import annotations

import asyncio

import js
from pyodide.ffi import JsException

from ..platform import FETCH_FAILED, FetchError
from . import settings
from .buffers import JsBuffer
from .ffi import is_null, js_object
from .streams import read_at_most

_REDIRECTS = (301, 302, 303, 307, 308)


class JsFetcher:
    """Remote URLs (an `image_url` for img2img) through the runtime's `fetch`: pyodide-http
    needs a synchronous XMLHttpRequest, which workerd does not have (see docs/design-notes.md).

    The bytes stay in JS (a `JsBuffer`); the body is read as a stream and abandoned as soon as it
    passes the limit, whether or not the server sent a Content-Length. Errors are a few fixed
    reasons: the target's status or connection error never reaches the client (no port probing)."""

    async def fetch_image(self, url: str, *, max_bytes: int, timeout: float, max_redirects: int) -> JsBuffer:
        controller = js.AbortController.new()
        try:
            return await asyncio.wait_for(self._fetch_image(url, controller, max_bytes, max_redirects), timeout)
        except asyncio.TimeoutError:
            controller.abort()
            raise FetchError(f"it took longer than {timeout:g} s") from None

    async def _fetch_image(self, url: str, controller, max_bytes: int, max_redirects: int) -> JsBuffer:
        from ..fetch_policy import refusal

        read = settings.read_already()
        allowed = read.image_fetch_allow_private if read is not None else ()
        for _ in range(max_redirects + 1):
            # Every hop, before it is fetched, on the URL exactly as `fetch` will read it (the WHATWG
            # parser's href): an allowed host may redirect to a private one.
            try:
                url = js.URL.new(url).href
            except JsException:
                raise FetchError(FETCH_FAILED) from None
            refused = refusal(url, allowed)
            if refused is not None:
                print(f"image fetch refused: {refused}")
                raise FetchError(FETCH_FAILED)
            try:
                response = await js.fetch(url, js_object({"redirect": "manual", "signal": controller.signal}))
            except JsException as exc:
                print(f"image fetch failed: {str(exc).splitlines()[0][:200]}")
                raise FetchError(FETCH_FAILED) from None
            if response.status in _REDIRECTS:
                location = response.headers.get("location")
                _cancel_body(response)
                if not location:
                    break
                try:
                    url = js.URL.new(location, url).href
                except JsException:
                    raise FetchError(FETCH_FAILED) from None
                if not url.startswith(("https://", "http://")):
                    raise FetchError("it redirects to a URL that is not http(s)")
                continue
            if not response.ok:
                _cancel_body(response)
                raise FetchError(FETCH_FAILED)
            content_type = (response.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
            if not content_type.startswith("image/"):
                _cancel_body(response)
                raise FetchError("it is not an image (its Content-Type is not image/*)")
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_bytes:
                _cancel_body(response)
                raise FetchError(f"it is larger than {max_bytes // (1024 * 1024)} MB")
            data = await read_at_most(response.body, max_bytes)
            if data is None:
                raise FetchError(f"it is larger than {max_bytes // (1024 * 1024)} MB")
            if not data.length:
                raise FetchError("it is empty")
            return JsBuffer(data, content_type)
        raise FetchError(f"it redirects more than {max_redirects} times")

    def from_base64(self, payload: str, content_type: str = "") -> JsBuffer:
        return JsBuffer.from_base64(payload, content_type)


def _cancel_body(response) -> None:
    body = response.body
    if not is_null(body):
        body.cancel()
