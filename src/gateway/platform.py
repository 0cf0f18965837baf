"""What the core needs from the runtime, as protocols the adapter implements.

Handlers receive a `Context`; the Workers adapter fills it with JS-backed
objects, unit tests with plain Python fakes.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Protocol

from .request_caps import RequestCaps
from .config import Settings
from .http import Request


class RuntimeStream(Protocol):
    """A byte stream that lives in the runtime (a JS ReadableStream on Workers).

    Iterate it to read the bytes in Python (SSE re-framing); or hand `handle` on
    to a response or to storage so the bytes never cross into Python.
    """

    handle: Any

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def buffer(self, max_bytes: int) -> "Blob | None":
        """The whole stream as a Blob the runtime holds (a generated image), or None once it passes
        `max_bytes` (the stream is then cancelled)."""

    def tee(self) -> "tuple[RuntimeStream, Awaitable[StreamCopy]]":
        """Two streams of the same bytes: one to hand on, and a copy the runtime reads to its end
        (whatever the other's reader does) and keeps, for what Python wants of it afterwards."""


class StreamCopy(Protocol):
    """A whole stream's bytes, kept in the runtime: Python reads the parts it asks for."""

    size: int

    def tail(self, max_bytes: int) -> bytes: ...

    def slices(self, step: int) -> "Iterable[bytes]": ...


class RuntimeVectors:
    """Embedding vectors the runtime keeps (on Workers, the model's own JS array of number arrays),
    so that a thousand floats per vector never become Python objects. The core checks them, reads
    their values only to change them (a `dimensions` cut, base64), and otherwise puts `items()` into
    a `JsonResponse`, which the runtime serialises itself."""

    def __len__(self) -> int:
        raise NotImplementedError

    def problem(self) -> str | None:
        """None when every item is a non-empty array of numbers, all of one length; else what is wrong."""
        raise NotImplementedError

    def items(self) -> list:
        """One value per vector, for a `JsonResponse` (opaque to the core on Workers)."""
        raise NotImplementedError

    def values(self) -> list[list[float]]:
        raise NotImplementedError

    def float32(self) -> list[bytes]:
        """Each vector as little-endian float32 (OpenAI's base64 form, before the base64)."""
        raise NotImplementedError


class AiBinding(Protocol):
    async def run(self, model: str, inputs: dict, options: dict | None = None, *, vectors_key: str | None = None) -> Any:
        """A JSON-like result (dict), or a `RuntimeStream` for streamed and binary outputs.

        `vectors_key`: a key of the result that may hold embedding vectors; the adapter may give
        that array as `RuntimeVectors` instead of Python lists.
        Raises `errors.UpstreamError` when Workers AI refuses or fails.
        """

    async def models(self, params: dict | None = None) -> list[dict]:
        """The account's current models (`AiModelsSearchObject[]`, plain dicts); raises on failure."""


@dataclass
class MultipartForm:
    """A model input sent as multipart form data (FLUX.2's `multipart`): the runtime adapter turns it
    into `{body, contentType}` (the form's stream and its content type with the boundary).
    Values are strings, or bytes for files (input images)."""

    fields: dict


class StorageError(Exception):
    """The object store failed (an R2 write or read): nothing was stored."""


@dataclass
class StoredObject:
    key: str
    size: int
    etag: str  # quoted, as HTTP's ETag header wants it
    uploaded: float  # epoch seconds
    content_type: str
    # The bytes, as a runtime stream, when the object was fetched with `get`.
    body: Any = None


class ObjectStore(Protocol):
    """The R2 bucket. `put` takes bytes, or the runtime's own (`Blob.runtime_bytes`, never read into
    Python); all three raise `StorageError` when the bucket fails."""

    async def put(self, key: str, data: Any, *, content_type: str, metadata: dict[str, str]) -> StoredObject: ...

    async def get(self, key: str) -> StoredObject | None: ...

    async def head(self, key: str) -> StoredObject | None: ...


class FetchError(Exception):
    """A remote URL could not be fetched (network, status, size, type, time). The message is one of a
    few fixed reasons: it never carries the target's status or connection error (no port probing)."""


# The reason for an unreachable target, an error status and an address fetch_policy refuses alike:
# a client cannot tell a refused address from a closed port or a server that said no.
FETCH_FAILED = "it could not be reached or did not answer with an image"


class Blob(Protocol):
    """Input bytes (a fetched or inline image, a mask) kept in the runtime: Python only ever holds
    what a model input needs, and never a list of ints."""

    size: int
    content_type: str

    async def read(self) -> bytes: ...

    async def base64(self) -> Any:
        """The bytes as base64 (a runtime string on Workers: opaque to the core)."""

    async def byte_values(self) -> Any:
        """The bytes as an array of numbers (a runtime array on Workers: opaque to the core)."""

    def head(self, size: int) -> bytes:
        """The first `size` bytes (a magic number), in Python."""

    def data_url(self, content_type: str) -> Any:
        """`data:<content_type>;base64,...` (a runtime string on Workers: opaque to the core)."""

    def runtime_bytes(self) -> Any:
        """The bytes as the runtime holds them (a form's file part)."""


def is_blob(value) -> bool:
    """Whether a value of a parsed body is a `Blob` (a data: URL the runtime kept) or a URL string."""
    return hasattr(value, "byte_values") and not isinstance(value, (str, bytes, dict, list))


@dataclass
class BytesBlob:
    """A Blob held in Python, where no runtime keeps bytes (unit tests under CPython)."""

    data: bytes
    content_type: str = ""

    @property
    def size(self) -> int:
        return len(self.data)

    async def read(self) -> bytes:
        return self.data

    def head(self, size: int) -> bytes:
        return self.data[:size]

    async def base64(self) -> str:
        return base64.b64encode(self.data).decode()

    def data_url(self, content_type: str) -> str:
        return f"data:{content_type};base64,{base64.b64encode(self.data).decode()}"

    def runtime_bytes(self) -> bytes:
        return self.data

    async def byte_values(self) -> list[int]:
        return list(self.data)


class TokenIds:
    """A long array of token ids the runtime kept as it read a body (`[...]`, or `[[...], ...]` for
    several inputs): Python holds their counts and gets back only the text they decode to."""

    ids: int  # in all
    sequences: int | None  # None for one array of ids, else how many arrays it holds

    async def texts(self, param: str, max_bytes: int) -> list[str]:
        """Each array's cl100k_base text (one for a single array): `tokens.unknown_token` for an id
        outside the vocabulary, `tokens.text_too_long` past `max_bytes` of UTF-8 in all."""
        raise NotImplementedError


class Fetcher(Protocol):
    async def fetch_image(self, url: str, *, max_bytes: int, timeout: float, max_redirects: int) -> Blob:
        """An image from the web: redirects followed up to `max_redirects`, `image/*` only, read as a
        stream and abandoned as soon as it passes `max_bytes` or `timeout` seconds; else FetchError."""

    def from_base64(self, payload: str, content_type: str = "") -> Blob:
        """Bytes given as (valid) base64, decoded into the runtime a slice at a time."""


class TextCache(Protocol):
    """A shared cache of short texts by key (the Workers Cache API: per data centre, free).
    Both methods swallow the cache's own failures: a cache that fails is a cache that missed."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl_seconds: int) -> None: ...


class Database(Protocol):
    """A SQL database (D1, SQLite). Parameters are positional (`?1`, `?2`, ...);
    both raise `DatabaseError` when the database fails."""

    async def execute(self, sql: str, params: list) -> None: ...

    async def changes(self, sql: str, params: list) -> int:
        """Runs a statement; the number of rows it changed."""

    async def query(self, sql: str, params: list) -> list[dict]: ...


class DatabaseError(Exception):
    """The database refused or failed a statement."""


@dataclass
class Platform:
    runtime: str  # "legacy" (module-level on_fetch) or "modern" (WorkerEntrypoint)
    settings: Settings
    ai: AiBinding | None = None
    storage: ObjectStore | None = None
    fetcher: Fetcher | None = None
    # Bytes of Python's (WebAssembly) heap; it grows under load and never shrinks, so /health shows it.
    python_heap_bytes: Callable[[], int] | None = None
    # The Cache API (translation cache) and the usage database (D1); None when not bound.
    cache: TextCache | None = None
    database: Database | None = None
    # Runs a coroutine after the answer has gone out (`ctx.waitUntil`); None: await it in line.
    defer: Callable[[Awaitable], None] | None = None
    # Keeps the request alive (`ctx.waitUntil` of a promise) until the function it returns is called;
    # None where the runtime gave no context.
    keep_alive: Callable[[], Callable[[], None]] | None = None
    # Epoch seconds; tests replace it (see usage.now).
    clock: Callable[[], float] = time.time
    pyodide_version: str | None = None
    # What this request spends (metering.Meter). The pipeline gives every request a platform of its
    # own with this set and `ai` metered through it (metering.MeteredAi).
    meter: Any = None


@dataclass
class Context:
    request: Request
    platform: Platform

    @property
    def settings(self) -> Settings:
        return self.platform.settings

    @property
    def meter(self):
        """The request's spending (metering.Meter), shared by every context built on its platform."""
        return self.platform.meter

    @property
    def caps(self) -> RequestCaps:
        """What this request may still make: AI calls, remote fetches (request_caps.py)."""
        return self.platform.meter.calls
