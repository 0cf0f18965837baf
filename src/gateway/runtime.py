"""The Workers runtime adapter: the only module that touches `js` and `pyodide`.

It turns the JS request into a core `Request`, gives the core its bindings as
plain-Python objects (`WorkersAi`, `R2Storage`), and turns the core's response
back into a JS `Response`. Works on both Python Workers runtimes: the legacy one
(module-level `on_fetch`, embedded Pyodide 0.26) and the modern one
(`WorkerEntrypoint`, where the SDK wraps `env`).
"""

from __future__ import annotations

import asyncio
import base64
import math
import re

import js
import pyodide
from pyodide.ffi import JsException, JsProxy, create_once_callable, to_js

from .app import handle
from .config import Settings
from .errors import UpstreamError, bad_request
from .http import Form, Headers, PassthroughResponse, Request, Response, StreamResponse
from .platform import FetchError, Platform, StorageError, StoredObject

_BINDING_NAMES = ("AI", "IMAGES")
_PYODIDE_VERSION = getattr(pyodide, "__version__", None)
_AI_ERROR_CODE = re.compile(r"\b(\d{4})\b")


def _js_object(value: dict) -> JsProxy:
    # A plain to_js(dict) makes a JS Map, which bindings serialise as {}.
    lazy = {key: item for key, item in value.items() if isinstance(item, _LazyJsString)}
    plain = {key: item for key, item in value.items() if key not in lazy}
    obj = to_js(plain, dict_converter=js.Object.fromEntries)
    for key, item in lazy.items():
        js.Object.defineProperty(obj, key, to_js({"get": item.getter, "enumerable": True}, dict_converter=js.Object.fromEntries))
    return obj


def _unwrap(value):
    """The JS object behind an SDK wrapper (modern runtime), or the value itself."""
    for attr in ("js_object", "_binding", "_env"):
        inner = getattr(value, attr, None) if not isinstance(value, (str, bytes, int, float)) else None
        if inner is not None:
            return inner
    return value


def _is_readable_stream(value) -> bool:
    return isinstance(value, JsProxy) and getattr(value, "getReader", None) is not None


class JsReadableStream:
    """A JS ReadableStream: iterate for its bytes, or pass `handle` on untouched."""

    def __init__(self, handle: JsProxy):
        self.handle = handle

    async def __aiter__(self):
        reader = self.handle.getReader()
        finished = False
        try:
            while True:
                chunk = await reader.read()
                if chunk.done:
                    finished = True
                    return
                value = chunk.value
                yield value.to_bytes() if isinstance(value, JsProxy) else bytes(value)
        finally:
            if finished:
                reader.releaseLock()
            else:
                # Stopped early (a timeout, a gone client): tell the source to stop producing.
                # Not awaited: this may run while the generator is being closed.
                reader.cancel()


class WorkersAi:
    """`env.AI` with Python values in and out."""

    def __init__(self, binding: JsProxy):
        self._binding = binding

    async def run(self, model: str, inputs: dict, options: dict | None = None):
        try:
            if options:
                result = await self._binding.run(model, _js_object(inputs), _js_object(options))
            else:
                result = await self._binding.run(model, _js_object(inputs))
        except JsException as exc:
            message = str(exc)
            found = _AI_ERROR_CODE.search(message)
            raise UpstreamError(message, int(found.group(1)) if found else None) from None
        result = _unwrap(result)
        if _is_readable_stream(result):
            return JsReadableStream(result)
        if isinstance(result, JsProxy):
            return result.to_py()
        return result


def _is_null(value) -> bool:
    # JS null/undefined arrive as None, or as a JsNull proxy on newer Pyodide.
    return value is None or type(value).__name__ == "JsNull"


class R2Storage:
    """The `IMAGES` R2 bucket. Streams are buffered on the JS side (R2 needs a known
    length), so image bytes from a streaming model never enter Python."""

    def __init__(self, bucket: JsProxy):
        self._bucket = bucket

    @staticmethod
    def _stored(obj, body=None) -> StoredObject:
        return StoredObject(
            key=obj.key,
            size=int(obj.size),
            etag=obj.httpEtag,
            uploaded=obj.uploaded.getTime() / 1000,
            content_type=getattr(obj.httpMetadata, "contentType", None) or "application/octet-stream",
            body=body,
        )

    async def put(self, key: str, data, *, content_type: str, metadata: dict[str, str]) -> StoredObject:
        options = _js_object({"httpMetadata": _js_object({"contentType": content_type}), "customMetadata": _js_object(metadata)})
        try:
            if isinstance(data, (bytes, bytearray)):
                value = to_js(data)
            else:
                value = await js.Response.new(data.handle).arrayBuffer()
            obj = await self._bucket.put(key, value, options)
        except JsException as exc:
            raise StorageError(str(exc)) from None
        if _is_null(obj):
            raise StorageError("R2 put returned no object")
        return self._stored(obj)

    async def get(self, key: str) -> StoredObject | None:
        try:
            obj = await self._bucket.get(key)
        except JsException as exc:
            raise StorageError(str(exc)) from None
        return None if _is_null(obj) else self._stored(obj, JsReadableStream(obj.body))

    async def head(self, key: str) -> StoredObject | None:
        try:
            obj = await self._bucket.head(key)
        except JsException as exc:
            raise StorageError(str(exc)) from None
        return None if _is_null(obj) else self._stored(obj)


class JsFetcher:
    """Remote URLs (an `image_url` for img2img) through the runtime's `fetch`: pyodide-http
    needs a synchronous XMLHttpRequest, which workerd does not have (see the README)."""

    async def fetch_bytes(self, url: str, max_bytes: int) -> bytes:
        try:
            response = await js.fetch(url)
        except JsException as exc:
            raise FetchError(str(exc).split("\n", 1)[0]) from None
        if not response.ok:
            raise FetchError(f"it answered HTTP {response.status}")
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise FetchError(f"it is larger than {max_bytes} bytes")
        data = (await response.arrayBuffer()).to_bytes()
        if len(data) > max_bytes:
            raise FetchError(f"it is larger than {max_bytes} bytes")
        return data


# Bytes per base64 step: a multiple of 3 (so chunks encode without padding) and small
# enough for Function.prototype.apply's argument limit.
_BASE64_CHUNK = 3 * 8192
_BASE64_BATCH = 64


class _LazyJsString:
    """A JS string that only ever exists on the JS side: `_js_object` turns it into a
    property whose getter joins the parts, so no Python str of it is made."""

    def __init__(self, getter: JsProxy):
        self.getter = getter


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
        """The file as base64, built and kept on the JS side: a JS string that JSON-serialises
        (or is structured-cloned) when the AI binding sends the inputs. Encoding in Python would
        grow Pyodide's WebAssembly memory by ~3.6x the file (bytes, base64 bytes, str), and that
        memory never shrinks: a 25 MB upload took it from 24 MB to 115 MB."""
        data = js.Uint8Array.new(await self._handle.arrayBuffer())
        # fromCharCode.apply(null, bytes) → a binary string → btoa, each run by Array.map in JS;
        # a batch at a time, so the binary strings of only one batch are alive at once
        # (the V8 heap peak for 25 MB fell from 131.7 to 119.9 MiB).
        as_binary = js.Function.prototype.apply.bind(js.String.fromCharCode, None)
        encoded = js.Array.new()
        batch_bytes = _BASE64_CHUNK * _BASE64_BATCH
        for batch_start in range(0, data.length, batch_bytes):
            chunks = js.Array.new()
            for start in range(batch_start, min(data.length, batch_start + batch_bytes), _BASE64_CHUNK):
                chunks.push(data.subarray(start, start + _BASE64_CHUNK))
            js.Array.prototype.push.apply(encoded, chunks.map(as_binary).map(js.btoa))
        return _LazyJsString(js.Function.prototype.call.bind(js.Array.prototype.join, encoded, ""))

    async def byte_values(self):
        # Built on the JS side (Array.from), so no Python list of millions of ints.
        return js.Array.from_(js.Uint8Array.new(await self._handle.arrayBuffer()))


class JsBody:
    def __init__(self, js_request: JsProxy):
        self._js_request = js_request

    async def read_bytes(self) -> bytes:
        buffer = await self._js_request.arrayBuffer()
        return buffer.to_bytes()

    async def read_form(self) -> Form:
        try:
            form = await self._js_request.formData()
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


def _core_request(js_request: JsProxy) -> Request:
    headers = Headers([(pair[0], pair[1]) for pair in js_request.headers.entries()])
    return Request(js_request.method, js_request.url, headers, JsBody(js_request))


_settings_cache: list[Settings] = []


def _settings(env) -> Settings:
    """Read once per isolate: vars and secrets cannot change without a new isolate, and
    reading them crossed into JS for every name on every request (~27 µs)."""
    if not _settings_cache:
        _settings_cache.append(_read_settings(env))
    return _settings_cache[0]


def _read_settings(env) -> Settings:
    def lookup(name: str) -> str | None:
        value = getattr(env, name, None)
        return value if isinstance(value, str) else None

    present = tuple(name for name in _BINDING_NAMES if getattr(env, name, None) is not None)
    return Settings.from_lookup(lookup, bindings=present)


def _js_init(status: int, headers: dict[str, str]) -> JsProxy:
    # One conversion: the converter applies to the nested headers dict too.
    return _js_object({"status": status, "headers": headers})


def _stream_body(chunks) -> JsProxy:
    """A JS ReadableStream fed from a Python async iterator, chunk by chunk as produced."""
    pipe = js.TransformStream.new()
    writer = pipe.writable.getWriter()
    encoder = js.TextEncoder.new()

    async def pump():
        try:
            async for chunk in chunks:
                await writer.write(encoder.encode(chunk) if isinstance(chunk, str) else to_js(chunk))
            await writer.close()
        except Exception as exc:  # the client sees a cut stream, the log sees why
            print(f"stream aborted: {type(exc).__name__}: {exc}")
            await writer.abort(str(exc))

    asyncio.ensure_future(pump())
    return pipe.readable


def _js_response(response) -> JsProxy:
    if isinstance(response, StreamResponse):
        body = _stream_body(response.chunks)
    elif isinstance(response, PassthroughResponse):
        body = _unwrap(response.body)
    elif isinstance(response, Response):
        body = response.body if isinstance(response.body, str) else (to_js(response.body) if response.body else None)
    else:
        raise TypeError(f"handler returned {type(response).__name__}, not a response")
    if response.status in (101, 204, 205, 304):
        body = None
    return js.Response.new(body, _js_init(response.status, response.headers))


class _ClearableTimer(asyncio.Handle):
    """A timer handle whose cancel() clears the JS timeout. Pyodide's WebLoop.call_later never
    clears its setTimeout, so on Pyodide 0.26 every cancelled timer (one per `asyncio.wait_for`)
    stayed in the Python heap until it would have fired: with a 120 s AI
    timeout, a stream's per-chunk timeouts grew the heap by ~8 KiB per streamed answer
    (24 → 41 MiB in 2 load rounds)."""

    _timer = None
    _proxy = None

    def cancel(self):
        super().cancel()
        self._release()

    def _release(self):
        if self._proxy is not None:
            js.clearTimeout(self._timer)
            self._proxy.destroy()
            self._proxy = None


# setTimeout's largest delay; WebLoop caps it the same way.
_MAX_TIMEOUT_MS = 2**31 - 1


def _cancelled_timers_leak(version: str | None) -> bool:
    """Whether this Pyodide keeps cancelled timers in the Python heap. Measured with 1800 streamed
    chats (3 rounds of 600, 20 at a time), Python heap per round, without the patch: Pyodide 0.26
    24 → 28.8 → 34.6 → 41.6 MiB (24 → 28.8 with it); Pyodide 314: 30.0 throughout, with or without.
    Pyodide 0.28 (compatibility dates before 2026-09-08) was not measured, so it keeps the patch."""
    major = (version or "0").split(".", 1)[0]
    return not major.isdigit() or int(major) < 314


_TIMERS_LEAK = _cancelled_timers_leak(_PYODIDE_VERSION)


def _install_clearable_timers(loop) -> None:
    if getattr(loop, "_gateway_timers", False):
        return
    # Pyodide >= 0.28 re-installs the running loop before each callback (each call may run on
    # its own thread state under stack switching); 0.26's WebLoop has neither method.
    before_callback = [getattr(loop, name) for name in ("_install_running_loop", "_install_asyncgen_hooks") if hasattr(loop, name)]

    def call_later(delay, callback, *args, context=None):
        if delay < 0:
            raise ValueError("Can't schedule in the past")
        handle = _ClearableTimer(callback, args, loop, context=context)
        if delay == math.inf:
            return handle

        def fire():
            handle._proxy = None  # a once-callable destroys itself when called
            for prepare in before_callback:
                prepare()
            if not handle.cancelled():
                handle._run()

        handle._proxy = create_once_callable(fire)
        handle._timer = js.setTimeout(handle._proxy, min(delay * 1000, _MAX_TIMEOUT_MS))
        return handle

    # WebLoop.call_at (used by asyncio.timeout/wait_for) goes through self.call_later.
    loop.call_later = call_later
    loop._gateway_timers = True


def _python_heap_bytes() -> int:
    import pyodide_js  # the Pyodide module object: its HEAP8 spans all of WebAssembly memory

    return int(pyodide_js._module.HEAP8.length)


async def serve(request, env, runtime: str) -> JsProxy:
    if _TIMERS_LEAK:
        _install_clearable_timers(asyncio.get_running_loop())
    js_request = _unwrap(request)
    env = _unwrap(env)
    platform = Platform(
        runtime=runtime,
        pyodide_version=_PYODIDE_VERSION,
        settings=_settings(env),
        ai=WorkersAi(env.AI) if getattr(env, "AI", None) is not None else None,
        storage=R2Storage(env.IMAGES) if getattr(env, "IMAGES", None) is not None else None,
        fetcher=JsFetcher(),
        python_heap_bytes=_python_heap_bytes,
    )
    return _js_response(await handle(_core_request(js_request), platform))
