"""The request and response values the core works with.

The runtime adapter builds a `Request` from the JS request and turns whatever
`Response` a handler returns back into a JS `Response`. Bodies are read lazily
through a `BodySource`, so a handler that never needs the body never pays for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from . import heap, limits
from .errors import ApiError, bad_request


class UploadedFile(Protocol):
    """A file from a multipart form. Its bytes stay in the runtime until a model input needs them."""

    filename: str
    content_type: str
    size: int

    async def read(self) -> bytes: ...

    async def base64(self) -> str: ...

    def stream(self) -> Any:
        """The bytes as a runtime stream, handed to a model untouched (opaque to the core)."""

    async def byte_values(self) -> Any:
        """The bytes as an array of numbers, as some Workers AI models take them (opaque to the core)."""


@dataclass
class Form:
    fields: dict[str, list[str]]
    files: dict[str, UploadedFile]

    def value(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


# Bodies up to this size keep their text for a second read (DeepL's `auth_key` is read from the
# body before the handler reads it; translation bodies are at most 1 MiB). Larger ones are not
# kept: holding a 14 MB image request's text beside its parsed form raised the heap by ~28 MiB.
_KEPT_TEXT_CHARS = 1024 * 1024

# What stands in a JSON text for a data: URL the runtime kept (`read_json_inline`): JSON-escaped
# there, "\x00inline:<n>" once parsed. A client may send one too; it then names nothing, or only
# its own request's images.
_INLINE_PREFIX = "\x00inline:"


def inline_placeholder(index: int) -> str:
    return f"\\u0000inline:{index}"


def _with_inline(value: Any, found: list) -> Any:
    """`value` with each placeholder string replaced by the data it stands for."""
    stack = [value] if isinstance(value, (dict, list)) else []
    while stack:
        node = stack.pop()
        for key, item in (node.items() if isinstance(node, dict) else enumerate(node)):
            if type(item) is str:
                if item.startswith(_INLINE_PREFIX):
                    index = item[len(_INLINE_PREFIX):]
                    if index.isdigit() and int(index) < len(found):
                        node[key] = found[int(index)]
            elif isinstance(item, (dict, list)):
                stack.append(item)
    return value


class BodySource(Protocol):
    async def read_bytes(self, max_bytes: int) -> bytes:
        """The whole body, read as a stream and abandoned (ApiError 413) once it passes `max_bytes`."""

    async def read_form(self, max_bytes: int) -> Form:
        """The multipart or urlencoded form, parsed by the runtime; ApiError 400 when malformed,
        413 once the body passes `max_bytes` (its bytes stay in the runtime)."""


class Headers:
    """Case-insensitive, read-only view of request headers."""

    def __init__(self, pairs: list[tuple[str, str]] | dict[str, str] = ()):
        items = pairs.items() if isinstance(pairs, dict) else pairs
        self._items = {k.lower(): v for k, v in items}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._items.get(name.lower(), default)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._items

    def items(self):
        return self._items.items()


class _NoBody:
    async def read_bytes(self, max_bytes: int) -> bytes:
        return b""

    async def read_form(self, max_bytes: int) -> "Form":
        return Form({}, {})


# The largest body any route takes (a 10 MB input image as a data: URL); each route has its own
# limit in limits.BODY_LIMITS, which the app sets on the request once it knows the route.
MAX_BODY_BYTES = 16 * 1024 * 1024


def body_too_large(size: int | None, limit: int = MAX_BODY_BYTES) -> ApiError:
    return limits.body_too_large(size, limit)


def _never() -> bool:
    return False


class Request:
    def __init__(self, method: str, url: str, headers: Headers, body: BodySource | None = None,
                 client_gone: Callable[[], bool] = _never):
        self.method = method.upper()
        self.url = url
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.netloc
        self.raw_path = parts.path or "/"
        self.path = unquote(self.raw_path)
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers
        self._body = body or _NoBody()
        self._bytes: bytes | None = None
        self._text_value: str | None = None
        # Whether the client has closed the connection (the runtime's abort signal).
        self.client_gone = client_gone
        # Set per route by the app (limits.BODY_LIMITS).
        self.max_body_bytes = MAX_BODY_BYTES
        self.max_json_values = limits.MAX_JSON_VALUES
        # The isolate's heap this request's text takes; the app gives it back when the answer is done.
        self.heap = heap.Share()

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def content_type(self) -> str:
        """The media type alone, lower case: `application/json; charset=utf-8` → `application/json`."""
        return (self.headers.get("content-type") or "").split(";", 1)[0].strip().lower()

    def declared_length(self) -> int | None:
        length = self.headers.get("content-length")
        return int(length) if length and length.strip().isdigit() else None

    async def bytes(self) -> bytes:
        if self._bytes is None:
            # Refused from Content-Length before a byte is read; checked again for chunked bodies.
            limit = self.max_body_bytes
            declared = self.declared_length()
            if declared is not None and declared > limit:
                raise body_too_large(declared, limit)
            data = await self._body.read_bytes(limit)
            if len(data) > limit:
                raise body_too_large(len(data), limit)
            self._bytes = data
        return self._bytes

    async def text(self) -> str:
        return await self._text()

    async def _text(self, max_json_values: int | None = None) -> str:
        read_text = getattr(self._body, "read_text", None)
        if self._text_value is not None:
            return self._text_value  # the runtime reads a body once (DeepL's auth reads `auth_key` first)
        if self._bytes is None and read_text is not None:
            # Decoded by the runtime: Python holds the text once, never the bytes beside it.
            declared = self.declared_length()
            if declared is not None and declared > self.max_body_bytes:
                raise body_too_large(declared, self.max_body_bytes)
            text = await read_text(self.max_body_bytes, max_json_values, admit=self.heap.take)
            if len(text) <= _KEPT_TEXT_CHARS:
                self._text_value = text
            return text
        data = await self.bytes()
        values = limits.count_json_values(data) if max_json_values is not None else 0
        await self.heap.take(heap.text_cost(len(data), heap.utf8_width(data), values))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request("The request body is not valid UTF-8.", code="invalid_encoding") from None

    async def json(self, *, inline_data: bool = False) -> Any:
        """The parsed body. With `inline_data`, a runtime may leave each long base64 data: URL out of
        the text (an image in a chat body): the value holds a `platform.Blob` in its place."""
        parsed = getattr(self._body, "parsed", None)
        if parsed is not None:
            return parsed
        found: list = []
        read_inline = getattr(self._body, "read_json_inline", None)
        if inline_data and read_inline is not None and self._text_value is None and self._bytes is None:
            declared = self.declared_length()
            if declared is not None and declared > self.max_body_bytes:
                raise body_too_large(declared, self.max_body_bytes)
            raw, found = await read_inline(self.max_body_bytes, self.max_json_values, admit=self.heap.take)
        else:
            raw = await self._text(self.max_json_values)
        if not raw or raw.isspace():
            raise bad_request("The request body is empty; send a JSON object.", code="invalid_json")
        data = limits.parse_json(raw, self.max_json_values)
        del raw
        return _with_inline(data, found) if found else data

    async def form(self) -> Form:
        if self.content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            raise bad_request("Send the request as multipart/form-data.", code="invalid_content_type")
        declared = self.declared_length()
        if declared is not None and declared > self.max_body_bytes:
            raise body_too_large(declared, self.max_body_bytes)
        return await self._body.read_form(self.max_body_bytes)

    async def json_object(self, *, inline_data: bool = False) -> dict:
        data = await self.json(inline_data=inline_data)
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object.", code="invalid_json")
        return data


@dataclass
class Response:
    """A complete response whose body is already known (bytes or text)."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)


# One encoder for every response (json.dumps with arguments builds a new one per call).
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = _COMPACT.encode(data)
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers)


@dataclass
class StreamResponse:
    """A response whose body the core produces chunk by chunk (for example SSE)."""

    chunks: AsyncIterator[bytes | str]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Called by the adapter once the body has ended, however it ended (`finish_with`).
    on_close: Callable[[], None] | None = None


@dataclass
class PassthroughResponse:
    """A response whose body is a runtime stream handed on untouched.

    `body` is opaque to the core (a JS ReadableStream on Workers); the adapter
    gives it to the runtime's Response so no byte is copied through Python.
    """

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # The RuntimeStream `body` belongs to, for a caller that must read it after all.
    source: Any = None


class StreamRelay(Protocol):
    """A synchronous re-framer of a byte stream (see `chat_stream.ChatStreamRelay`): text out per read."""

    finished: bool  # nothing more is wanted from the source: end() now
    closed: bool  # the last event was produced

    def feed(self, data: bytes) -> str: ...

    def end(self) -> str: ...

    def fail(self, reason: str) -> str: ...


@dataclass
class RelayResponse:
    """A runtime stream re-framed on its way to the client by a synchronous `relay`.

    The adapter runs `relay` inside the runtime's own stream pipe (a JS TransformStream on
    Workers), once per read of `source` and with no await per chunk; a watchdog ends the stream
    with `relay.fail` when the source is silent for `idle_seconds`.
    """

    source: Any  # platform.RuntimeStream
    relay: StreamRelay
    idle_seconds: float
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Called by the adapter once the body has ended, however it ended (`finish_with`).
    on_close: Callable[[], None] | None = None


def finish_with(response, callback: Callable[[], None]) -> None:
    """`callback()` once `response` is done: at once for a complete one, at its body's end for a
    stream the core still feeds (whose chunks or relay may hold on to the request)."""
    if isinstance(response, (StreamResponse, RelayResponse)):
        before = response.on_close

        def both() -> None:
            try:
                if before is not None:
                    before()
            finally:
                callback()

        response.on_close = both
    else:
        callback()


@dataclass
class JsonResponse:
    """A JSON response whose data may hold values the runtime keeps (`RuntimeVectors.items()`):
    the adapter serialises it in the runtime (Response.json on Workers), so those never cross
    into Python. The bytes are json_response's: compact, non-ASCII as is."""

    data: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> str:
        """The JSON text, for data made only of Python values (tests, CPython)."""
        return _COMPACT.encode(self.data)


AnyResponse = Response | JsonResponse | StreamResponse | PassthroughResponse | RelayResponse
