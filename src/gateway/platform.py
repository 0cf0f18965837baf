"""What the core needs from the runtime, as protocols the adapter implements.

Handlers receive a `Context`; the Workers adapter fills it with JS-backed
objects, unit tests with plain Python fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Protocol

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


@dataclass
class Platform:
    runtime: str  # "legacy" (module-level on_fetch) or "modern" (WorkerEntrypoint)
    settings: Settings
    ai: AiBinding | None = None
    storage: Any = None


@dataclass
class Context:
    request: Request
    platform: Platform

    @property
    def settings(self) -> Settings:
        return self.platform.settings
