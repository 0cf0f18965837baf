"""Plain-Python stand-ins for what the runtime adapter provides."""

from __future__ import annotations

import asyncio
import json

from gateway.config import Settings
from gateway.http import Headers, Request
from gateway.platform import Platform


class BytesBody:
    def __init__(self, data: bytes):
        self.data = data

    async def read_bytes(self, max_bytes: int) -> bytes:
        return self.data


def make_request(method="GET", path="/", *, headers=None, body=None, host="https://gw.example") -> Request:
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    return Request(method, host + path, Headers(headers or {}), BytesBody(body or b""))


class FakeAi:
    def __init__(self, result=None, error: Exception | None = None):
        self.result = result
        self.error = error
        self.calls: list[tuple[str, dict]] = []

    async def run(self, model, inputs, options=None, *, vectors_key=None):
        self.calls.append((model, inputs))
        if self.error:
            raise self.error
        return self.result(model, inputs) if callable(self.result) else self.result


def make_platform(ai=None, **settings) -> Platform:
    settings.setdefault("api_keys", ("sk-unit",))
    return Platform(runtime="test", settings=Settings(**settings), ai=ai)


def run(coro):
    return asyncio.run(coro)


async def collect(async_iterable) -> list:
    return [item async for item in async_iterable]
