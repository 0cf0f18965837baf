"""Plain-Python stand-ins for what the runtime adapter provides."""

from __future__ import annotations

import asyncio
import inspect
import json
import sqlite3
from pathlib import Path

from gateway.config import Settings
from gateway.http import Headers, Request
from gateway.platform import DatabaseError, Platform

MIGRATIONS = sorted((Path(__file__).resolve().parents[2] / "migrations").glob("*.sql"))


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
        await asyncio.sleep(0)  # a real binding always waits on the network
        if self.error:
            raise self.error
        result = self.result(model, inputs) if callable(self.result) else self.result
        return await result if inspect.isawaitable(result) else result


def make_platform(ai=None, **settings) -> Platform:
    settings.setdefault("api_keys", ("sk-unit",))
    return Platform(runtime="test", settings=Settings(**settings), ai=ai)


def run(coro):
    return asyncio.run(coro)


async def collect(async_iterable) -> list:
    return [item async for item in async_iterable]


class SqliteDatabase:
    """D1's interface on SQLite (D1 is SQLite): the migrations run as written. `fail` makes every
    statement fail (D1 down); `statements` and `queries` record what ran."""

    def __init__(self):
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.row_factory = sqlite3.Row
        for migration in MIGRATIONS:
            self.db.executescript(migration.read_text())
        self.statements: list[str] = []
        self.queries: list[str] = []
        self.fail = False

    async def changes(self, sql, params):
        self.statements.append(sql)
        if self.fail:
            raise DatabaseError("D1_ERROR: the database is down")
        try:
            return self.db.execute(sql, params).rowcount
        except sqlite3.Error as error:
            raise DatabaseError(f"D1_ERROR: {error}") from None

    async def execute(self, sql, params):
        await self.changes(sql, params)

    async def query(self, sql, params):
        self.queries.append(sql)
        if self.fail:
            raise DatabaseError("D1_ERROR: the database is down")
        return [dict(row) for row in self.db.execute(sql, params)]

    def rows(self, sql, params=()):
        return [dict(row) for row in self.db.execute(sql, params)]
