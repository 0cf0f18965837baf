"""What the core needs from the runtime, as protocols the adapter implements.

Handlers receive a `Context`; the Workers adapter fills it with JS-backed
objects, unit tests with plain Python fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Protocol

from .config import Settings
from .http import Request


class RuntimeStream(Protocol):
    """A byte stream that lives in the runtime (a JS ReadableStream on Workers).

    Iterate it to read the bytes in Python (SSE re-framing); or hand `handle` on
    to a response or to storage so the bytes never cross into Python.
    """

    handle: Any

    def __aiter__(self) -> AsyncIterator[bytes]: ...


class AiBinding(Protocol):
    async def run(self, model: str, inputs: dict, options: dict | None = None) -> Any:
        """A JSON-like result (dict), or a `RuntimeStream` for streamed and binary outputs.

        Raises `errors.UpstreamError` when Workers AI refuses or fails.
        """


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
    """The R2 bucket. `put` takes bytes or a `RuntimeStream` (kept in the runtime, never read
    into Python); all three raise `StorageError` when the bucket fails."""

    async def put(self, key: str, data: "bytes | RuntimeStream", *, content_type: str, metadata: dict[str, str]) -> StoredObject: ...

    async def get(self, key: str) -> StoredObject | None: ...

    async def head(self, key: str) -> StoredObject | None: ...


class FetchError(Exception):
    """A remote URL could not be fetched (network, status, size)."""


class Fetcher(Protocol):
    async def fetch_bytes(self, url: str, max_bytes: int) -> bytes: ...


@dataclass
class Platform:
    runtime: str  # "legacy" (module-level on_fetch) or "modern" (WorkerEntrypoint)
    settings: Settings
    ai: AiBinding | None = None
    storage: ObjectStore | None = None
    fetcher: Fetcher | None = None
    # Bytes of Python's (WebAssembly) heap; it grows under load and never shrinks, so /health shows it.
    python_heap_bytes: Callable[[], int] | None = None
    pyodide_version: str | None = None


@dataclass
class Context:
    request: Request
    platform: Platform

    @property
    def settings(self) -> Settings:
        return self.platform.settings
