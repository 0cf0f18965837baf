"""The Python heap the requests of one isolate may fill at once with the text of their bodies.

An isolate's 128 MB serves every request in it at the same time, and the WebAssembly heap Python
lives in never shrinks. Bytes (images, audio, vectors) stay in JS; the text of a JSON body (and the
text token ids decode to) must become Python strs and objects: up to ~13 MiB for one body within
the limits (2 Mi characters, one of them outside the BMP, make a str of 4 bytes a character).
Eight such bodies at once would fill the isolate. So a request whose text would cost more than
SMALL takes that cost from one pool per isolate before the text crosses into Python, and gives it
back when its answer is done (a stream's end); while the pool is full it waits its turn (FIFO), and
after WAIT_SECONDS it is answered 503. Ordinary requests (a chat turn, a page to translate) cost
less than SMALL and never touch the pool.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque

from .errors import ApiError

MiB = 1024 * 1024
CAPACITY = 40 * MiB
SMALL = 256 * 1024
WAIT_SECONDS = 30.0
# What one JSON value costs beyond its characters (a dict, a list slot, an int: 32-64 bytes under
# CPython 3.12, measured with tracemalloc; see limits.MAX_JSON_VALUES).
VALUE_BYTES = 64

# A UTF-8 lead byte of a character outside the BMP, or of one above U+00FF: what makes a Python
# str take 4 or 2 bytes a character.
_ASTRAL_LEAD = re.compile(rb"[\xf0-\xf4]")
_WIDE_LEAD = re.compile(rb"[\xc4-\xef]")


def utf8_width(raw: bytes) -> int:
    """The bytes a character of this UTF-8 text will take in a Python str (1, 2 or 4)."""
    if raw.isascii():
        return 1
    if _ASTRAL_LEAD.search(raw):
        return 4
    return 2 if _WIDE_LEAD.search(raw) else 1


def text_cost(characters: int, width: int, values: int = 0) -> int:
    """The heap a JSON text of `characters` builds at its peak: the text, the strings parsed out of
    it (at most as long again) and its values."""
    return 2 * characters * width + values * VALUE_BYTES


def busy() -> ApiError:
    return ApiError(503, "The gateway is holding as much request text as it safely can; retry in a moment.",
                    type="server_error", code="server_busy", headers={"Retry-After": "2"})


class Pool:
    """Heap bytes shared by the requests of one isolate, taken before and given back after.

    A waiting request looks again every POLL_SECONDS from its own timer, and is never woken by
    another request: Workers runs a continuation in the context of the request that resolved its
    promise, and a request may not touch another one's I/O ("Cannot perform I/O on behalf of a
    different request")."""

    POLL_SECONDS = 0.025

    def __init__(self, capacity: int = CAPACITY, wait_seconds: float = WAIT_SECONDS):
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.used = 0
        self._waiting: deque[object] = deque()

    async def take(self, size: int) -> int:
        """Waits until `size` fits and every request that came before has had its turn (a size over
        the capacity is taken as the whole pool: such a request runs alone) and returns what was
        taken; 503 after `wait_seconds`."""
        size = min(size, self.capacity)
        if not self._waiting and self.used + size <= self.capacity:
            self.used += size
            return size
        ticket = object()
        self._waiting.append(ticket)
        try:
            for _ in range(max(1, round(self.wait_seconds / self.POLL_SECONDS))):
                await asyncio.sleep(self.POLL_SECONDS)
                if self._waiting[0] is ticket and self.used + size <= self.capacity:
                    self.used += size
                    return size
            raise busy()
        finally:
            self._waiting.remove(ticket)

    def give(self, size: int) -> None:
        self.used -= size


POOL = Pool()


class Share:
    """One request's part of the pool: taken once, as its body's text is read; given back once."""

    def __init__(self, pool: Pool | None = None):
        self._pool = pool if pool is not None else POOL
        self.held = 0

    async def take(self, cost: int) -> None:
        if cost < SMALL or self.held:
            return
        self.held = await self._pool.take(cost)

    def give_back(self) -> None:
        held, self.held = self.held, 0
        if held:
            self._pool.give(held)
