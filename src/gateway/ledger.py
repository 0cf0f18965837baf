"""The spending ledger in the usage database (D1): reservations before calls, settlements after.

- `reserve` is ONE conditional INSERT: the reservation is made only if what the key spent today, plus
  what its requests in flight hold, plus this reservation stays within its daily neuron cap (and,
  for the DeepL character limit, the same for characters this UTC month). D1 runs one statement at a
  time, so however many requests race, from however many isolates, the sum held never passes the cap.
- `settle` is ONE INSERT into `settlements` (a row per model the request used): a trigger adds it to
  `usage` and deletes the request's reservations. The row's key (the request's settlement id and the
  model) makes a retried write count once: the retry of a write that did land fails on that key.
- A settlement that cannot be written is retried a few times, then kept in this isolate (bounded) and
  written before the next settlement; `FAILURES` counts what happened, for /health.
Migration: migrations/0002_reservations.sql.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

from .platform import Database, DatabaseError

T = TypeVar("T")

# A retry of a reservation that landed (its answer lost) must find it, not be refused for the room it
# takes itself: an existing id makes the SELECT produce its row, and the INSERT then fails on the key.
RESERVE_SQL = (
    "INSERT INTO reservations (id, key_hash, day, neurons, characters) SELECT ?1, ?2, ?3, ?4, ?5 WHERE "
    "EXISTS (SELECT 1 FROM reservations WHERE id = ?1) OR ("
    "(?6 < 0 OR (SELECT COALESCE(SUM(neurons), 0) FROM usage WHERE key_hash = ?2 AND day = ?3)"
    " + (SELECT COALESCE(SUM(neurons), 0) FROM reservations WHERE key_hash = ?2 AND day = ?3) + ?4 <= ?6)"
    " AND (?7 < 0 OR (SELECT COALESCE(SUM(characters), 0) FROM usage WHERE key_hash = ?2 AND day >= ?8 AND day <= ?3)"
    " + (SELECT COALESCE(SUM(characters), 0) FROM reservations WHERE key_hash = ?2 AND day >= ?8 AND day <= ?3)"
    " + ?5 <= ?7))"
)
SETTLE_COLUMNS = ("id", "model", "key_hash", "day", "requests", "ai_calls", "neurons", "cache_hits", "neurons_saved", "characters")
SETTLE_SQL_HEAD = f"INSERT INTO settlements ({', '.join(SETTLE_COLUMNS)}) VALUES "
SETTLE_ROW = "(" + ", ".join("?" for _ in SETTLE_COLUMNS) + ")"
RELEASE_SQL = "DELETE FROM reservations WHERE id > ?1 || ':' AND id < ?1 || ';'"
SPENT_SQL = (
    "SELECT (SELECT COALESCE(SUM(neurons), 0) FROM usage WHERE key_hash = ?1 AND day = ?2) AS spent,"
    " (SELECT COALESCE(SUM(neurons), 0) FROM reservations WHERE key_hash = ?1 AND day = ?2) AS held"
)
CHARACTERS_SQL = (
    "SELECT (SELECT COALESCE(SUM(characters), 0) FROM usage WHERE key_hash = ?1 AND day >= ?2 AND day <= ?3)"
    " + (SELECT COALESCE(SUM(characters), 0) FROM reservations WHERE key_hash = ?1 AND day >= ?2 AND day <= ?3)"
    " AS characters"
)
# What SQLite says when a settlement's (or a reservation's) key is already there: the write landed before.
_ALREADY_WRITTEN = "UNIQUE constraint failed: settlements"
_ALREADY_HELD = "UNIQUE constraint failed: reservations"

# Attempts per settlement write, and the pauses between them (seconds).
RETRY_PAUSES = (0.05, 0.25)
# Settlements this isolate keeps while the database is down; past it the oldest is dropped (and counted).
MAX_PENDING = 1000


@dataclass
class Failures:
    """What went wrong with the usage database in this isolate (shown by /health)."""

    reserve: int = 0  # reservations the database failed (the request was refused: 503)
    settle: int = 0  # settlement writes that failed after their retries (kept to write later)
    dropped: int = 0  # settlements lost because too many were waiting
    written_late: int = 0  # kept settlements written once the database answered again

    def report(self) -> dict:
        return {"reserve_failures": self.reserve, "settle_failures": self.settle, "pending": len(_pending),
                "written_late": self.written_late, "dropped": self.dropped}


FAILURES = Failures()
# (sql, params) of settlements not written yet, oldest first.
_pending: collections.deque = collections.deque()


def reset() -> None:
    """Tests: a fresh isolate."""
    global FAILURES
    FAILURES = Failures()
    _pending.clear()


@dataclass(frozen=True)
class Limits:
    """A key's caps: neurons per UTC day, characters per UTC month (None: no cap)."""

    neurons: float | None = None
    characters: int | None = None


async def reserve(database: Database, reservation_id: str, hashed: str, day: str, *, neurons: float,
                  characters: int, limits: Limits, sleep=asyncio.sleep) -> bool:
    """Holds `neurons` (and `characters`) for the key if its caps allow: True when held. A failed
    write is retried (the same id: a retry of one that landed finds it); still failing, raises
    DatabaseError (counted) and the caller refuses the request."""
    # -1 for "no cap": a None would reach D1 as `undefined` (Pyodide), which it refuses to bind.
    neuron_cap = -1 if limits.neurons is None else limits.neurons
    character_cap = -1 if limits.characters is None else limits.characters
    params = [reservation_id, hashed, day, neurons, characters, neuron_cap, character_cap, day[:8] + "01"]

    async def attempt() -> bool:
        try:
            return await database.changes(RESERVE_SQL, params) == 1
        except DatabaseError as error:
            if _ALREADY_HELD in str(error):
                return True
            raise

    try:
        return await _retried(attempt, sleep)
    except DatabaseError:
        FAILURES.reserve += 1
        raise


async def _retried(attempt: Callable[[], Awaitable[T]], sleep) -> T:
    """`attempt()`, tried again after each pause of RETRY_PAUSES while the database fails."""
    for pause in RETRY_PAUSES:
        try:
            return await attempt()
        except DatabaseError:
            await sleep(pause)
    return await attempt()


async def spent(database: Database, hashed: str, day: str) -> tuple[float, float]:
    """(settled, held by requests in flight) neurons of the key's day."""
    (row,) = await database.query(SPENT_SQL, [hashed, day])  # sums: always one row
    return float(row["spent"]), float(row["held"])


async def characters(database: Database, hashed: str, day: str) -> int:
    """Characters the key translated this UTC month (up to `day`), including requests in flight."""
    (row,) = await database.query(CHARACTERS_SQL, [hashed, day[:8] + "01", day])
    return int(row["characters"])


def settlement(settlement_id: str, hashed: str, day: str, rows: list[tuple]) -> tuple[str, list]:
    """The statement writing a request's spending: `rows` are (model, requests, ai_calls, neurons,
    cache_hits, neurons_saved, characters); without any, it only releases the reservations."""
    if not rows:
        return RELEASE_SQL, [settlement_id]
    params: list = []
    for model, *counts in rows:
        params += [settlement_id, model, hashed, day, *counts]
    return SETTLE_SQL_HEAD + ", ".join(SETTLE_ROW for _ in rows), params


async def _write(database: Database, statement: tuple[str, list]) -> None:
    try:
        await database.execute(*statement)
    except DatabaseError as error:
        if _ALREADY_WRITTEN not in str(error):
            raise


async def settle(database: Database, statement: tuple[str, list], sleep=asyncio.sleep) -> bool:
    """Writes a settlement (retried), then any kept from earlier failures. False when it could not be
    written and was kept for later."""
    try:
        await _retried(lambda: _write(database, statement), sleep)
    except DatabaseError as error:
        print(f"usage accounting failed, kept to write later: {error}")
        FAILURES.settle += 1
        if len(_pending) >= MAX_PENDING:
            _pending.popleft()
            FAILURES.dropped += 1
        _pending.append(statement)
        return False
    await _write_pending(database)
    return True


async def _write_pending(database: Database) -> None:
    while _pending:
        statement = _pending.popleft()
        try:
            await _write(database, statement)
        except DatabaseError:
            _pending.appendleft(statement)
            return
        FAILURES.written_late += 1
