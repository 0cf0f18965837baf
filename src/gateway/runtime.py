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
import collections
import json
import math
import re
import time

import js
import pyodide
from pyodide.ffi import JsException, JsProxy, create_once_callable, create_proxy, to_js

from .app import handle
from .config import Settings
from .errors import UpstreamError, bad_request
from .http import Form, Headers, JsonResponse, PassthroughResponse, RelayResponse, Request, Response, StreamResponse, body_too_large
from .limits import MAX_JSON_TEXT_CHARS, count_json_values, json_too_complex, text_too_long
from . import heap, tokens
from .platform import DatabaseError, FetchError, MultipartForm, Platform, RuntimeVectors, StorageError, StoredObject, TokenIds

_BINDING_NAMES = ("AI", "IMAGES")
_USAGE_DB = "USAGE_DB"
_PYODIDE_VERSION = getattr(pyodide, "__version__", None)
_AI_ERROR_CODE = re.compile(r"\b(\d{4})\b")


def _multipart(form: MultipartForm) -> JsProxy:
    """`{body, contentType}` for a multipart input: the FormData serialised by the runtime's own
    Response (which also writes the boundary into the content type)."""
    data = js.FormData.new()
    for name, item in form.fields.items():
        if isinstance(item, (bytes, bytearray)):
            data.append(name, js.Blob.new(to_js([to_js(bytes(item))])), name)
        elif _is_js_proxy(item):  # bytes the runtime holds (an input image's Uint8Array)
            data.append(name, js.Blob.new(js.Array.of(item)), name)
        else:
            data.append(name, str(item))
    encoded = js.Response.new(data)
    return to_js({"body": encoded.body, "contentType": encoded.headers.get("content-type")}, dict_converter=js.Object.fromEntries)


def _js_object(value: dict) -> JsProxy:
    # A plain to_js(dict) makes a JS Map, which bindings serialise as {}. JS values inside (the
    # String objects of `_js_string`) are passed as they are, at any depth.
    plain = {key: _multipart(item) if isinstance(item, MultipartForm) else item for key, item in value.items()}
    return to_js(plain, dict_converter=js.Object.fromEntries)


_IS_JS_PROXY: dict[type, bool] = {}


def _is_js_proxy(value) -> bool:
    """isinstance(value, JsProxy), remembered per type: Pyodide answers that isinstance in Python
    (a metaclass reading type flags, ~3 µs on Pyodide 314), and its answer depends on the type alone."""
    kind = type(value)
    try:
        return _IS_JS_PROXY[kind]
    except KeyError:
        answer = _IS_JS_PROXY[kind] = isinstance(value, JsProxy)
        return answer


def _unwrap(value):
    """The JS object behind an SDK wrapper (modern runtime), or the value itself."""
    if _is_js_proxy(value):
        return value  # already the JS object (legacy runtime): no property lookups across the FFI
    for attr in ("js_object", "_binding", "_env"):
        inner = getattr(value, attr, None) if not isinstance(value, (str, bytes, int, float)) else None
        if inner is not None:
            return inner
    return value


def _is_readable_stream(value) -> bool:
    return _is_js_proxy(value) and getattr(value, "getReader", None) is not None


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
                yield value.to_bytes() if _is_js_proxy(value) else bytes(value)
        finally:
            if finished:
                reader.releaseLock()
            else:
                # Stopped early (a timeout, a gone client): tell the source to stop producing.
                # Not awaited: this may run while the generator is being closed.
                reader.cancel()

    async def buffer(self, max_bytes: int) -> "JsBuffer | None":
        """The stream's bytes kept in JS (a generated image), or None once it passes `max_bytes`."""
        data = await _read_at_most(self.handle, max_bytes)
        return None if data is None else JsBuffer(data)

    def tee(self):
        """(the stream for the client, an awaitable `JsStreamCopy` of the same bytes). The copy is read
        by the runtime's own Response.arrayBuffer() from now on: no Python runs per chunk, and it
        is read to its end whatever the client's branch does."""
        branches = self.handle.tee()
        whole = js.Response.new(branches[1]).arrayBuffer()

        async def copy() -> "JsStreamCopy":
            return JsStreamCopy(await whole)

        return JsReadableStream(branches[0]), copy()


class JsStreamCopy:
    """A stream's bytes in one JS ArrayBuffer: Python reads only the slices it asks for."""

    def __init__(self, buffer: JsProxy):
        self._buffer = buffer
        self.size = int(buffer.byteLength)

    def tail(self, max_bytes: int) -> bytes:
        start = max(0, self.size - max_bytes)
        return js.Uint8Array.new(self._buffer, start, self.size - start).to_bytes()

    def slices(self, step: int):
        for start in range(0, self.size, step):
            yield js.Uint8Array.new(self._buffer, start, min(step, self.size - start)).to_bytes()


class WorkersAi:
    """`env.AI` with Python values in and out."""

    def __init__(self, binding: JsProxy, gateway: dict | None = None):
        self._binding = binding
        # The AI Gateway settings every call is routed through (Settings.ai_gateway; MeteredAi adds them).
        self.gateway = gateway

    async def run(self, model: str, inputs: dict, options: dict | None = None, *, vectors_key: str | None = None):
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
        if _is_js_proxy(result):
            if vectors_key:
                return _with_vectors(result, vectors_key)
            _check_answer_size(result)
            return result.to_py()
        return result

    async def models(self, params: dict | None = None) -> list:
        try:
            result = await self._binding.models(_js_object(params or {}))
        except JsException as exc:
            raise UpstreamError(str(exc)) from None
        result = _unwrap(result)
        return result.to_py() if _is_js_proxy(result) else result


# A non-streamed answer converted into Python objects: a chat answer of the longest output any model
# gives is well under 1 MB, a generated image or speech as base64 a few MB.
MAX_ANSWER_CHARS = 8 * 1024 * 1024


def _check_answer_size(result: JsProxy) -> None:
    """Refuses (UpstreamError) an answer whose JSON is longer than MAX_ANSWER_CHARS before any of it
    becomes Python objects: measured in JS (a String object of its JSON, so the text never crosses)."""
    try:
        size = _length(js.Array.of(result).map(js.JSON.stringify))
    except JsException:
        return  # not JSON (no such answer is known): to_py decides
    if size > MAX_ANSWER_CHARS:
        raise UpstreamError(f"the model's answer is {size} characters of JSON, more than the gateway relays ({MAX_ANSWER_CHARS})")


def _with_vectors(result: JsProxy, key: str):
    """result.to_py(), except that an array at `key` stays in JS as `JsVectors`."""
    items = getattr(result, key, None)
    if not (_is_js_proxy(items) and js.Array.isArray(items)):
        return result.to_py()
    out = {}
    for name in js.Object.keys(result):
        if name != key:
            value = getattr(result, name)
            out[name] = value.to_py() if _is_js_proxy(value) else value
    out[key] = JsVectors(items)
    return out


class JsVectors(RuntimeVectors):
    """The model's JS array of number arrays, checked and encoded by JS built-ins (a few calls per
    vector, none per value); the float answer is serialised by Response.json."""

    def __init__(self, items: JsProxy):
        self._items = items
        self._count = items.length
        self._vectors = None

    def __len__(self) -> int:
        return self._count

    def problem(self) -> str | None:
        """Checked vector by vector, a few crossings each. One array of every value was dearer:
        Array.prototype.flat is slow on older V8 (10.8 ms for 100 × 1024 values in node 20, against
        1.3 ms this way), and with Pyodide loaded `concat` leaves V8's fast path too. Legacy
        runtime, 2 × 1024: 1.68 → 1.47 ms of CPU per request; production: no change measured."""
        if not self._count:
            return None
        items = self._items
        if not items.every(js.Array.isArray):
            return "embeddings result holds something that is not a vector"
        vectors = items.to_py(depth=1)
        is_finite = js.Number.isFinite  # a nested array or a string is not a finite number
        for vector in vectors:
            if not vector.every(is_finite):
                return "embeddings result holds a vector with something that is not a number"
        size = vectors[0].length
        if not size or any(vector.length != size for vector in vectors):
            return "embeddings result holds empty vectors or vectors of different lengths"
        self._vectors = vectors
        return None

    def items(self) -> list:
        return self._vectors if self._vectors is not None else self._items.to_py(depth=1)

    def values(self) -> list[list[float]]:
        return json.loads(js.JSON.stringify(self._items))

    def float32(self) -> list[bytes]:
        """After problem() found nothing wrong (vectors of one length)."""
        if not self._count:
            return []
        # Float32Array rounds as struct.pack("<f") does; every Workers host is little-endian.
        return [js.Float32Array.new(vector).to_bytes() for vector in self._vectors]


def _is_null(value) -> bool:
    # JS null/undefined arrive as None, or as a JsNull proxy on newer Pyodide.
    return value is None or type(value).__name__ == "JsNull"


class R2Storage:
    """The `IMAGES` R2 bucket. It is given bytes the runtime holds (a generated image, read into a
    JS Uint8Array by `JsReadableStream.buffer`), so they never enter Python."""

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
            # Bytes the runtime already holds (Blob.runtime_bytes) go as they are.
            value = to_js(data) if isinstance(data, (bytes, bytearray)) else data
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


_REDIRECTS = (301, 302, 303, 307, 308)


class JsFetcher:
    """Remote URLs (an `image_url` for img2img) through the runtime's `fetch`: pyodide-http
    needs a synchronous XMLHttpRequest, which workerd does not have (see the README).

    The bytes stay in JS (a `JsBuffer`); the body is read as a stream and abandoned as soon as it
    passes the limit, whether or not the server sent a Content-Length. Errors are a few fixed
    reasons: the target's status or connection error never reaches the client (no port probing)."""

    async def fetch_image(self, url: str, *, max_bytes: int, timeout: float, max_redirects: int) -> "JsBuffer":
        controller = js.AbortController.new()
        try:
            return await asyncio.wait_for(self._fetch_image(url, controller, max_bytes, max_redirects), timeout)
        except asyncio.TimeoutError:
            controller.abort()
            raise FetchError(f"it took longer than {timeout:g} s") from None

    async def _fetch_image(self, url: str, controller, max_bytes: int, max_redirects: int) -> "JsBuffer":
        from .fetch_policy import refusal
        from .platform import FETCH_FAILED

        allowed = _settings_cache[0].image_fetch_allow_private if _settings_cache else ()
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
                response = await js.fetch(url, _js_object({"redirect": "manual", "signal": controller.signal}))
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
            data = await _read_at_most(response.body, max_bytes)
            if data is None:
                raise FetchError(f"it is larger than {max_bytes // (1024 * 1024)} MB")
            if not data.length:
                raise FetchError("it is empty")
            return JsBuffer(data, content_type)
        raise FetchError(f"it redirects more than {max_redirects} times")

    def from_base64(self, payload: str, content_type: str = "") -> "JsBuffer":
        return JsBuffer.from_base64(payload, content_type)


def _cancel_body(response) -> None:
    body = response.body
    if not _is_null(body):
        body.cancel()


async def _read_at_most(stream, max_bytes: int):
    """The bytes of a JS ReadableStream as one Uint8Array, or None (the stream cancelled) as soon as
    it passes `max_bytes`. Nothing crosses into Python; a BYOB `readAtLeast` takes one crossing."""
    if _is_null(stream):
        return js.Uint8Array.new(0)
    try:
        reader = stream.getReader(_js_object({"mode": "byob"}))
    except JsException:
        reader = None
    if reader is not None and getattr(reader, "readAtLeast", None) is not None:
        # Resolves once max_bytes + 1 bytes arrived (too many) or the stream ended (fewer).
        view = js.Uint8Array.new(max_bytes + 1)
        total = 0
        while True:
            chunk = await reader.readAtLeast(max_bytes + 1 - total, view.subarray(total))
            value = chunk.value
            got = 0
            if not _is_null(value):
                # The read transferred the buffer: the result views the same memory, now ours again.
                view = js.Uint8Array.new(value.buffer)
                got = int(value.byteLength)
                total += got
            if total > max_bytes:
                reader.cancel()
                return None
            if chunk.done or got == 0:
                break
        return view.subarray(0, total)
    reader = stream.getReader()
    parts = js.Array.new()
    total = 0
    while True:
        chunk = await reader.read()
        if chunk.done:
            break
        total += int(chunk.value.byteLength)
        if total > max_bytes:
            reader.cancel()
            return None
        parts.push(chunk.value)
    return js.Uint8Array.new(await js.Blob.new(parts).arrayBuffer())


class WorkersCache:
    """The Cache API's default cache (`caches.default`) holding short texts. Misses and failures
    look the same to the caller: the cache is an optimisation, never a reason to fail.

    The isolate also remembers the texts it read or wrote last (at most `_RECENT_ENTRIES` of at
    most `_RECENT_CHARS` characters each, for at most `_RECENT_SECONDS` and never past the TTL they
    were stored with): a line asked for again (a site's menu on every page) is answered without the
    two awaits of a Cache API read (`match`, then the body), ~0.4 ms of CPU per translation on the
    production runtime locally."""

    def __init__(self, cache: JsProxy):
        self._cache = cache
        self._recent: collections.OrderedDict[str, tuple[str, float]] = collections.OrderedDict()
        self._longest_kept = _RECENT_SECONDS

    def _remember(self, key: str, value: str, seconds: float) -> None:
        if len(value) > _RECENT_CHARS:
            return
        self._recent[key] = (value, time.time() + min(seconds, self._longest_kept))
        self._recent.move_to_end(key)
        while len(self._recent) > _RECENT_ENTRIES:
            self._recent.popitem(last=False)

    async def get(self, key: str) -> str | None:
        recent = self._recent.get(key)
        if recent is not None:
            if recent[1] > time.time():
                self._recent.move_to_end(key)
                return recent[0]
            del self._recent[key]
        try:
            hit = await self._cache.match(key)
            text = None if _is_null(hit) else await hit.text()
        except JsException as exc:
            print(f"cache read failed: {exc}")
            return None
        if text is not None:
            self._remember(key, text, _RECENT_SECONDS)
        return text

    async def put(self, key: str, value: str, ttl_seconds: int) -> None:
        # What a put says of the TTL bounds how long hits read back are kept here too.
        self._longest_kept = min(_RECENT_SECONDS, ttl_seconds)
        self._remember(key, value, ttl_seconds)
        init = _js_object({"headers": {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": f"max-age={ttl_seconds}"}})
        try:
            await self._cache.put(key, js.Response.new(value, init))
        except JsException as exc:
            print(f"cache write failed: {exc}")


_RECENT_ENTRIES = 512
_RECENT_CHARS = 2048
_RECENT_SECONDS = 300

_text_caches: list = []


def _text_cache() -> WorkersCache | None:
    """`caches.default`, looked up once per isolate (None where the runtime has no Cache API)."""
    if not _text_caches:
        caches = getattr(js, "caches", None)
        default = getattr(caches, "default", None) if caches is not None else None
        _text_caches.append(WorkersCache(default) if default is not None else None)
    return _text_caches[0]


class D1Database:
    """A D1 binding: one prepared statement per call, positional parameters."""

    def __init__(self, binding: JsProxy):
        self._binding = binding

    def _statement(self, sql: str, params: list):
        statement = self._binding.prepare(sql)
        return statement.bind(*params) if params else statement

    async def execute(self, sql: str, params: list) -> None:
        await self._run(sql, params)

    async def changes(self, sql: str, params: list) -> int:
        # Read only where asked: the two crossings to `meta.changes` cost a settlement ~10 µs for nothing.
        meta = getattr(await self._run(sql, params), "meta", None)
        changes = getattr(meta, "changes", None) if meta is not None and not _is_null(meta) else None
        return int(changes) if isinstance(changes, (int, float)) else 0

    async def _run(self, sql: str, params: list):
        try:
            return await self._statement(sql, params).run()
        except JsException as exc:
            raise DatabaseError(str(exc)) from None

    async def query(self, sql: str, params: list) -> list[dict]:
        try:
            result = await self._statement(sql, params).all()
        except JsException as exc:
            raise DatabaseError(str(exc)) from None
        rows = result.results
        return rows.to_py() if _is_js_proxy(rows) else list(rows or [])


def _wait_until(ctx):
    """`() -> ctx.waitUntil` (or None), looked up when a request first asks, once."""
    found: list = []

    def get():
        if not found:
            found.append(getattr(_unwrap(ctx), "waitUntil", None) if ctx is not None else None)
        return found[0]

    return get


def _deferrer(wait_until):
    """`ctx.waitUntil` for a Python coroutine (a translation cache write): it runs after the answer
    has gone out, and the runtime keeps the isolate alive until it settles."""

    async def guarded(coro):
        try:
            # Yield once first, so the answer goes out before the work starts: started at once, a
            # local D1 write once delayed the response by ~10 ms (p50 5.8 → 15.8 ms; with the yield 5.7).
            await asyncio.sleep(0)
            await coro
        except Exception as exc:  # a deferred write must never surface as an unhandled rejection
            print(f"deferred task failed: {type(exc).__name__}: {exc}")

    def defer(coro):
        task = asyncio.ensure_future(guarded(coro))
        if wait_until() is not None:
            wait_until()(to_js(task))

    return defer


def _keeper(wait_until):
    """Keeps the request alive until released: one JS promise given to waitUntil and resolved by the
    function returned (Promise.withResolvers: cheaper than handing waitUntil a Python future, whose
    to_js costs ~15 µs, which is the way left where the runtime's V8 lacks it)."""

    def keep_alive():
        if wait_until() is None:
            return _nothing
        if _PROMISE_WITH_RESOLVERS is not None:
            pending = _PROMISE_WITH_RESOLVERS()
            wait_until()(pending.promise)
            return pending.resolve
        future = asyncio.get_event_loop().create_future()
        wait_until()(to_js(future))
        return lambda: future.done() or future.set_result(None)

    return keep_alive


_PROMISE_WITH_RESOLVERS = getattr(js.Promise, "withResolvers", None)


def _nothing() -> None:
    return None


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
        """The file as base64, built and kept on the JS side (see `_js_base64`)."""
        return _js_base64(js.Uint8Array.new(await self._handle.arrayBuffer()))

    def stream(self):
        """The file's bytes as a runtime stream (nova-3's `audio.body`): never read into Python."""
        return self._handle.stream()

    async def byte_values(self):
        # Built on the JS side (Array.from), so no Python list of millions of ints.
        return js.Array.from_(js.Uint8Array.new(await self._handle.arrayBuffer()))


def _js_base64(data, prefix: str = "") -> JsProxy:
    """Bytes (a JS Uint8Array) as base64 after `prefix`, built and kept on the JS side: a JS String
    object (`_js_string`) that JSON-serialises when the AI binding sends the inputs. Encoding in
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
    return _js_string(js.Function.prototype.call.bind(js.Array.prototype.join, encoded, ""))


# Base64 characters decoded per step by `JsBuffer.from_base64` (a multiple of 4): Python holds
# one step's bytes at a time.
_BASE64_DECODE_STEP = 4 * 256 * 1024


def _boxed(getter: JsProxy) -> JsProxy:
    """`[getter()]`, called and kept on the JS side: a primitive JS string it returns would be copied
    into a Python str the moment it crossed; in an array it stays there. `getter` runs from
    Array.prototype.map, so it must ignore extra arguments."""
    return js.Array.of(None).map(getter)


def _js_string(getter: JsProxy) -> JsProxy:
    """A JS String object holding what `getter()` returns: a reference Python can hold and pass on.
    JSON.stringify (the AI binding's, Response.json's) writes it as the string it wraps."""
    return js.Reflect.construct(js.String, _boxed(getter))


def _length(box: JsProxy) -> int:
    """The length of the string a `_boxed` array holds, read without it crossing."""
    return int(js.Reflect.construct(js.String, box).length)


def _bound_slice(box: JsProxy, start: int, end: int) -> JsProxy:
    """A function returning the slice [start, end) of the boxed string (V8 shares its memory)."""
    return js.Reflect.apply(js.Function.prototype.bind, js.String.prototype.slice, box.concat(to_js([start, end])))


def _slice_text(box: JsProxy, start: int, end: int | None = None) -> str:
    """The slice [start, end) of the boxed string, as a Python str."""
    bounds = [start] if end is None else [start, end]
    return js.Reflect.apply(js.Function.prototype.call, js.String.prototype.slice, box.concat(to_js(bounds)))


class _Base64Source:
    """Valid base64 text, read a slice at a time (a Python str, or a span of a JS string)."""

    def __init__(self, length: int, text):
        self.length = length
        self.text = text

    @classmethod
    def of(cls, payload: str) -> "_Base64Source":
        return cls(len(payload), lambda start, end: payload[start:end])


class JsBuffer:
    """Input bytes (a fetched image, an inline mask) held in a JS Uint8Array, like `JsFile`."""

    def __init__(self, data: JsProxy, content_type: str = ""):
        self._data = data
        self.content_type = content_type
        self.size = int(data.length)

    @classmethod
    def from_base64(cls, payload: "str | _Base64Source", content_type: str = "") -> "JsBuffer":
        """Decoded a step at a time: Python holds one step's text and bytes, never the image."""
        source = _Base64Source.of(payload) if isinstance(payload, str) else payload
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
        return _js_base64(self._data)

    def data_url(self, content_type: str) -> JsProxy:
        """`data:<type>;base64,...` as a JS String object, built from the bytes on the JS side."""
        return _js_base64(self._data, f"data:{content_type};base64,")

    def runtime_bytes(self) -> JsProxy:
        return self._data

    async def byte_values(self):
        return js.Array.from_(self._data)


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
_HAS_ID_ARRAY = re.compile(rb'"(?:input|prompt)"\s*:\s*\[[\[\]0-9,\s]{4096,}\]')


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
        return _slice_text(self._body, self._payload_start + start, self._payload_start + end)

    def data_url(self, content_type: str | None = None) -> JsProxy:
        """The URL as the client sent it (its declared type kept)."""
        sent = _js_string(_bound_slice(self._body, self._start, self._end))
        if self._prefix is None:
            return sent
        # prefix + payload joined in JS (Array.prototype.join ignores the extra arguments map passes).
        parts = js.Array.of(js.Array.of(self._prefix, sent), "")
        return _js_string(js.Reflect.apply(js.Function.prototype.bind, js.Array.prototype.join, parts))

    async def base64(self):
        return _js_string(_bound_slice(self._body, self._payload_start, self._end))

    def _buffer(self) -> JsBuffer:
        return JsBuffer.from_base64(_Base64Source(self._end - self._payload_start, self._text), self.content_type)

    async def read(self) -> bytes:
        return await self._buffer().read()

    def head(self, size: int) -> bytes:
        chars = min(self._end - self._payload_start, (size + 2) // 3 * 4) // 4 * 4
        return base64.b64decode(self._text(0, chars))[:size]

    def runtime_bytes(self) -> JsProxy:
        return self._buffer().runtime_bytes()

    async def byte_values(self):
        return await self._buffer().byte_values()


def _token_ids(box: JsProxy, start: int, end: int) -> "JsTokenIds | None":
    """The array at [start, end) of the body, parsed in JS; None (left to Python) unless it holds safe
    integers only, or arrays of them only."""
    try:
        values = _boxed(_bound_slice(box, start, end)).map(js.JSON.parse)[0]
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
        text = _boxed(decoder.decode.bind(decoder, raw.subarray(count)))
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


async def _inline_data(box: JsProxy, max_chars: int, values: int, admit) -> tuple[str, list]:
    """The body's JSON text with each long base64 data: URL and each long array of token ids replaced
    by a placeholder string, and those values: the URLs left in JS (`JsInlineData`), the ids packed
    (`JsTokenIds`). A few crossings per value found, none per character. Refused (413) when what would
    remain for Python is longer than `max_chars`, before any of it crosses."""
    from .http import inline_placeholder

    spans: list[tuple[int, int, object]] = []  # (first, after last) character replaced, and its value
    ids = js.RegExp.new(_ID_ARRAY, "gd")
    find_ids = ids.exec.bind(ids)
    while True:
        match = box.map(find_ids)[0]
        if _is_null(match):
            break
        start, end = (int(i) for i in match.indices[1])
        kept_ids = _token_ids(box, start, end)
        if kept_ids is not None:
            spans.append((start, end, kept_ids))
    head = js.RegExp.new(_INLINE_HEAD, "g")
    payload = js.RegExp.new(_INLINE_PAYLOAD, "y")
    find_head, match_payload = head.exec.bind(head), payload.exec.bind(payload)
    while True:
        match = box.map(find_head)[0]
        if _is_null(match):
            break
        payload.lastIndex = head.lastIndex
        rest = box.map(match_payload)[0]
        if _is_null(rest) or payload.lastIndex - head.lastIndex - 1 < INLINE_MIN_CHARS:
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
    kept = _length(box) - sum(end - start for start, end, _ in spans)
    if kept > max_chars:
        raise text_too_long(kept, max_chars)
    if admit is not None:
        found = [value for _, _, value in spans if isinstance(value, JsTokenIds)]
        ids = sum(value.ids for value in found)
        # Their text, at its most: 128 bytes an id (cl100k's longest token), capped, 4 bytes a character.
        decoded = 4 * min(tokens.MAX_TEXT_BYTES * len(found), tokens.MAX_ID_BYTES * ids)
        await admit(heap.text_cost(kept, _width(box), max(0, values - ids)) + decoded)
    if not spans:
        return box[0], []
    spans.sort(key=lambda span: span[0])
    pieces: list[str] = []
    position = 0
    for index, (start, end, _) in enumerate(spans):
        pieces.append(_slice_text(box, position, start))
        pieces.append(f'"{inline_placeholder(index)}"')
        position = end
    pieces.append(_slice_text(box, position))
    return "".join(pieces), [value for _, _, value in spans]


_VALUE_COUNT_SLICE = 1024 * 1024


def _decoded(data: JsProxy) -> JsProxy:
    """The body's text, decoded as UTF-8 (400 when it is not), in a JS array: the string stays in JS
    until Python asks for it (`box[0]`), so its length can be checked first."""
    decoder = js.TextDecoder.new("utf-8", _js_object({"fatal": True}))
    try:
        return _boxed(decoder.decode.bind(decoder, data))
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


# A surrogate (a character outside the BMP) makes the Python str 4 bytes a character; anything
# above U+00FF, 2. Made on first use: no JS object may exist at import (production's snapshot).
_WIDTH_TESTS: list = []


def _width(box: JsProxy) -> int:
    """heap.utf8_width for the boxed JS string, read in JS."""
    if not _WIDTH_TESTS:
        for pattern in ("[\\uD800-\\uDFFF]", "[^\\x00-\\xFF]"):
            expression = js.RegExp.new(pattern)
            _WIDTH_TESTS.append(expression.test.bind(expression))
    astral, wide = _WIDTH_TESTS
    if box.some(astral):
        return 4
    return 2 if box.some(wide) else 1


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

    def __init__(self, js_request: JsProxy, headers: "JsHeaders"):
        self._js_request = js_request
        self._headers = headers  # the core's copy: a header it has read is not asked of JS again

    async def _read(self, max_bytes: int):
        request = self._js_request
        length = self._headers.get("content-length")
        if length and length.isdigit() and int(length) <= max_bytes:
            # The runtime delivers exactly Content-Length bytes.
            return js.Uint8Array.new(await request.arrayBuffer())
        data = await _read_at_most(request.body, max_bytes)
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
        size = _length(box)
        if size > MAX_JSON_TEXT_CHARS:
            raise text_too_long(size, MAX_JSON_TEXT_CHARS)
        if admit is not None:
            await admit(heap.text_cost(size, _width(box), values))
        return box[0]

    async def read_json_inline(self, max_bytes: int, max_json_values: int, admit=None) -> tuple[str, list]:
        """read_text, with each long base64 data: URL left in JS (`JsInlineData`) and a placeholder
        in its place: a 10 MB image in a chat body is never a Python str."""
        length = self._headers.get("content-length")
        if length and length.isdigit() and int(length) <= min(max_bytes, _VALUE_COUNT_SLICE):
            buffer = await self._js_request.arrayBuffer()
            raw = buffer.to_bytes()
            if not _HAS_ID_ARRAY.search(raw):
                return await _small_text(raw, max_json_values, admit), []
            # Token ids: a 1 MiB body of them is 260 000 Python ints; they stay in JS instead.
            del raw
            data = js.Uint8Array.new(buffer)
        else:
            data = await self._read(max_bytes)
        values = _count_values(data, max_json_values)
        box = _decoded(data)
        return await _inline_data(box, MAX_JSON_TEXT_CHARS, values, admit)

    async def read_form(self, max_bytes: int) -> Form:
        request = self._js_request
        try:
            length = self._headers.get("content-length")
            if length and length.isdigit() and int(length) <= max_bytes:
                form = await request.formData()
            else:
                data = await self._read(max_bytes)
                init = _js_object({"headers": _js_object({"content-type": self._headers.get("content-type") or ""})})
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
            value = self._cache[key] = None if _is_null(value) else value
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
            found.append(None if signal is None or _is_null(signal) else signal)
        return found[0] is not None and bool(found[0].aborted)

    return client_gone


def _core_request(js_request: JsProxy) -> Request:
    headers = JsHeaders(js_request.headers)
    return Request(js_request.method, js_request.url, headers, JsBody(js_request, headers),
                   client_gone=_abort_signal(js_request))


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


def _stream_body(chunks, on_close=None) -> JsProxy:
    """A JS ReadableStream fed from a Python async iterator, chunk by chunk as produced."""
    pipe = js.TransformStream.new()
    writer = pipe.writable.getWriter()
    encoder = js.TextEncoder.new()

    async def pump():
        try:
            async for chunk in chunks:
                # A JS String (an image's base64) is encoded on the JS side, never copied into Python.
                await writer.write(encoder.encode(chunk) if isinstance(chunk, str) or _is_js_proxy(chunk) else to_js(chunk))
            await writer.close()
        except Exception as exc:  # the client sees a cut stream, the log sees why
            print(f"stream aborted: {type(exc).__name__}: {exc}")
            await writer.abort(str(exc))
        finally:
            if on_close is not None:
                on_close()

    asyncio.ensure_future(pump())
    return pipe.readable


_PIPE_OPTIONS: list = []


def _pipe_options() -> JsProxy:
    # preventAbort: a source that errors must not error the response before the relay's error event.
    if not _PIPE_OPTIONS:
        _PIPE_OPTIONS.append(_js_object({"preventAbort": True}))
    return _PIPE_OPTIONS[0]


# The idle watchdog looks this many times per idle period: a silence is caught between
# `idle_seconds` and `idle_seconds * (1 + 1/_WATCHES_PER_IDLE)` after the last read.
_WATCHES_PER_IDLE = 4


def _relay_body(source: JsProxy, relay, idle_seconds: float, on_close=None) -> JsProxy:
    """The model's stream piped through a JS TransformStream whose `transform` is `relay.feed_bytes`:
    one Python call per read of the source (all the events that read delivered), one enqueue of
    the answer, no await per chunk. A read the relay sends on unchanged is enqueued as the
    source's own Uint8Array (no conversion back). The idle timeout is one watchdog timer per
    stream that counts reads: a chunk costs no clock read and no timer, only `reads += 1`.
    (Measured and not kept: TextDecoderStream/TextEncoderStream around the transform, so text
    crosses as str arguments, costs more per chunk than to_bytes + to_js on both runtimes
    (production: 184 against 139 µs per chunk in one run); and TextEncoder.encode costs the
    same as to_js.)"""
    # Per chunk only `reads` and `enqueue` are touched (closure cells, the cheapest state Python has).
    state = {"controller": None, "seen": 0, "quiet": 0, "timer": None, "done": False}
    reads = 0
    enqueue = None
    feed = relay.feed_bytes
    proxies: list = []

    def release():
        for proxy in proxies:
            proxy.destroy()
        proxies.clear()

    def close(controller, text: str, *, terminate: bool) -> None:
        if state["done"]:
            return
        state["done"] = True
        if state["timer"] is not None:
            js.clearTimeout(state["timer"])
            state["timer"] = None
        try:
            if text:
                controller.enqueue(to_js(text.encode()))
            if terminate:
                controller.terminate()  # the pipe then cancels the source
        except JsException:
            pass  # the client is gone
        # Released now: after the response ends, the runtime may never call anything of this
        # request again (the pipe's promise included), so a later release would never happen.
        release()
        if on_close is not None:
            on_close()

    def start(controller):
        nonlocal enqueue
        state["controller"] = controller
        enqueue = controller.enqueue  # looked up once, not per chunk

    def transform(data, controller):
        nonlocal reads
        reads += 1
        try:
            raw = data.to_bytes()
            out = feed(raw)
            if relay.finished or relay.closed:
                if not relay.closed:
                    out += relay.end().encode()  # [DONE] or a stop string: nothing more is wanted
                if out:
                    enqueue(to_js(out))
                close(controller, "", terminate=True)
            elif out:
                enqueue(data if out == raw else to_js(out))
        except Exception as exc:  # noqa: BLE001 - a broken relay must still end the stream visibly
            close(controller, relay.fail(f"{type(exc).__name__}: {exc}"), terminate=True)

    def flush(controller):
        close(controller, relay.end(), terminate=False)

    def source_failed(reason):
        close(state["controller"], relay.fail(f"the model's stream failed: {reason}"), terminate=True)

    def watch():
        state["timer"] = None
        if state["done"]:
            return
        if reads == state["seen"]:
            state["quiet"] += 1
        else:
            state["seen"], state["quiet"] = reads, 0
        if state["quiet"] >= _WATCHES_PER_IDLE:
            close(state["controller"], relay.fail(f"the stream was silent for {idle_seconds:g}s"), terminate=True)
        else:
            state["timer"] = js.setTimeout(proxies[4], idle_seconds * 1000 / _WATCHES_PER_IDLE)

    proxies.extend(create_proxy(f) for f in (start, transform, flush, source_failed, watch))
    pipe = js.TransformStream.new(_js_object({"start": proxies[0], "transform": proxies[1], "flush": proxies[2]}))
    # The pipe rejects when the source fails (or after the relay ended the stream, when
    # source_failed is already released and calling it throws: Boolean swallows that).
    source.pipeTo(pipe.writable, _pipe_options()).catch(proxies[3]).catch(js.Boolean)
    state["timer"] = js.setTimeout(proxies[4], idle_seconds * 1000 / _WATCHES_PER_IDLE)
    return pipe.readable


def _js_response(response) -> JsProxy:
    if isinstance(response, StreamResponse):
        body = _stream_body(response.chunks, response.on_close)
    elif isinstance(response, RelayResponse):
        body = _relay_body(_unwrap(response.source.handle), response.relay, response.idle_seconds, response.on_close)
    elif isinstance(response, PassthroughResponse):
        body = _unwrap(response.body)
    elif isinstance(response, Response):
        body = response.body if isinstance(response.body, str) else (to_js(response.body) if response.body else None)
    elif isinstance(response, JsonResponse):
        # Serialised by the runtime: JS values inside (embedding vectors) never cross into Python.
        return js.Response.json(_js_object(response.data), _js_init(response.status, response.headers))
    else:
        raise TypeError(f"handler returned {type(response).__name__}, not a response")
    if response.status in (101, 204, 205, 304):
        body = None
    return js.Response.new(body, _js_init(response.status, response.headers))


class _ClearableTimer(asyncio.Handle):
    """A timer handle whose cancel() clears the JS timeout. Pyodide's WebLoop.call_later never
    clears its setTimeout, so every cancelled timer (one per `asyncio.wait_for`, i.e. one per AI
    call) stays set until it would have fired, 120 s later. On Pyodide 0.26 each also stayed in the
    Python heap (a stream's per-chunk timeouts grew it by ~8 KiB per streamed answer: 24 → 41 MiB in
    2 load rounds). On every runtime each stays an active timeout, of which workerd allows 10 000:
    a translation of 10 000 lines failed on Pyodide 314 with "QuotaExceededError: You have exceeded
    the number of active timeouts you may set" at its 10 001st timer."""

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


def _install_microtask_call_soon(loop) -> None:
    """call_soon through a JS microtask instead of WebLoop's setTimeout(0): every `await` of a JS
    promise and every task step is a call_soon, and each setTimeout(0) went once round workerd's
    event loop (a timer, then I/O) before Python resumed; a microtask runs as soon as the current
    JS turn ends. FIFO like call_soon. Handles wait in a Python queue drained by ONE proxy made
    once per isolate: a JS function per call_soon (create_once_callable, with its finalizer
    registration) cost more than the step it scheduled. Nothing in the gateway polls with
    `sleep(0)`, the one pattern a microtask loop could starve I/O with."""
    if getattr(loop, "_gateway_microtasks", False):
        return
    queue_microtask = getattr(js, "queueMicrotask", None)
    if queue_microtask is None:
        return
    before_callback = [getattr(loop, name) for name in ("_install_running_loop", "_install_asyncgen_hooks") if hasattr(loop, name)]
    ready: collections.deque = collections.deque()

    def drain():
        # Handles scheduled while draining run in this same pass, in order, as call_soon promises.
        while ready:
            handle = ready.popleft()
            if handle.cancelled():
                continue
            for prepare in before_callback:
                prepare()
            handle._run()

    drain_proxy = create_proxy(drain)

    def call_soon(callback, *args, context=None):
        handle = asyncio.Handle(callback, args, loop, context=context)
        if not ready:
            queue_microtask(drain_proxy)
        ready.append(handle)
        return handle

    loop.call_soon = call_soon
    loop._gateway_microtasks = True


def _python_heap_bytes() -> int:
    import pyodide_js  # the Pyodide module object: its HEAP8 spans all of WebAssembly memory

    return int(pyodide_js._module.HEAP8.length)


async def serve(request, env, runtime: str, ctx=None) -> JsProxy:
    _install_clearable_timers(asyncio.get_running_loop())
    _install_microtask_call_soon(asyncio.get_running_loop())
    js_request = _unwrap(request)
    env = _unwrap(env)
    wait_until = _wait_until(ctx)
    ai, images, usage_db = getattr(env, "AI", None), getattr(env, "IMAGES", None), getattr(env, _USAGE_DB, None)
    platform = Platform(
        runtime=runtime,
        pyodide_version=_PYODIDE_VERSION,
        settings=_settings(env),
        ai=WorkersAi(ai, _settings(env).ai_gateway) if ai is not None else None,
        storage=R2Storage(images) if images is not None else None,
        fetcher=JsFetcher(),
        python_heap_bytes=_python_heap_bytes,
        cache=_text_cache(),
        database=D1Database(usage_db) if usage_db is not None else None,
        defer=_deferrer(wait_until) if ctx is not None else None,
        keep_alive=_keeper(wait_until) if ctx is not None else None,
    )
    return _js_response(await handle(_core_request(js_request), platform))
