"""What one request may spend: Workers AI calls and remote fetches, counted per request; and
concurrency that creates work only as slots free up. (A key's daily budget of neurons, KEY_BUDGETS,
is another limit: `usage.daily_neuron_budget`, enforced by `metering.py`.)

Anyone holding a key (or the translate secret, which sits in an Immersive Translate URL) could
otherwise spend the account's whole daily allocation with one request. A route that knows how many
calls it will make `reserve`s them before the first one, so an oversized request is refused
without spending anything; every call then `spend`s one, so no path can go past the cap.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Iterable, TypeVar

from .errors import ApiError

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_AI_CALLS = 200
# An input image and a mask.
MAX_FETCHES_PER_REQUEST = 2
# Bytes one request may hold at once in the isolate (128 MB, shared by the requests it serves): its
# body, its input images (inline or fetched) and the images a model made for it. They are JS
# objects, which the garbage collector frees; the Python heap, which never shrinks, holds none.
MAX_HELD_BYTES = 48 * 1024 * 1024


class ClientGone(ApiError):
    """The client closed the connection: nothing more is spent on its answer."""

    def __init__(self):
        # 499 (nginx's "client closed request"): nobody reads it, the log does.
        super().__init__(499, "The client closed the request.", type="server_error", code="client_closed_request")


def _too_many_calls(needed: int, limit: int) -> ApiError:
    return ApiError(
        400,
        f"This request needs {needed} Workers AI calls; one request may make at most {limit} "
        "(MAX_AI_CALLS_PER_REQUEST). Send fewer texts, lines or images per request.",
        code="too_many_ai_calls",
    )


class RequestCaps:
    """The request's caps: AI calls, remote fetches and bytes held at once, and whether its client left."""

    def __init__(self, max_calls: int = DEFAULT_MAX_AI_CALLS, max_fetches: int = MAX_FETCHES_PER_REQUEST,
                 client_gone: Callable[[], bool] | None = None):
        self.max_calls = max_calls
        self.max_fetches = max_fetches
        self.calls = 0
        self.fetches = 0
        self.held = 0
        self._client_gone = client_gone

    def hold(self, size: int, what: str) -> None:
        """Before bytes arrive (or are kept): refuse (413) a request that would hold more than
        MAX_HELD_BYTES at once."""
        if self.held + size > MAX_HELD_BYTES:
            raise ApiError(413, f"This request would hold {(self.held + size) / 1048576:.1f} MB at once ({what}); one "
                           f"request may hold at most {MAX_HELD_BYTES // 1048576} MB. Send smaller images, ask for "
                           "fewer, or ask for URLs (response_format=url).", code="request_too_large")
        self.held += size

    def client_gone(self) -> bool:
        return self._client_gone is not None and bool(self._client_gone())

    def reserve(self, calls: int) -> None:
        """Before the first call: refuse (400) a request that would need more calls than its cap."""
        if self.calls + calls > self.max_calls:
            raise _too_many_calls(self.calls + calls, self.max_calls)

    def spend(self) -> None:
        """Right before one Workers AI call."""
        if self.client_gone():
            raise ClientGone()
        if self.calls >= self.max_calls:
            raise _too_many_calls(self.calls + 1, self.max_calls)
        self.calls += 1

    def spend_fetch(self) -> None:
        """Right before one remote fetch."""
        if self.client_gone():
            raise ClientGone()
        if self.fetches >= self.max_fetches:
            raise ApiError(400, f"One request may fetch at most {self.max_fetches} remote images.",
                           code="too_many_fetches", param="image_url")
        self.fetches += 1


async def bounded_map(fn: Callable[[T], Awaitable[R]], items: Iterable[T], limit: int,
                      stop: Callable[[], bool] | None = None) -> list[R]:
    """`[await fn(item) for item in items]`, at most `limit` at a time, in order.

    A fixed set of `limit` workers pull the next item as they finish one, so no task (and no
    timer) exists for an item before a slot is free; `stop()` true (the client has gone) or a
    failure ends the run without starting more work.
    """
    items = list(items)
    results: list = [None] * len(items)
    queue = iter(enumerate(items))

    async def worker():
        for index, item in queue:
            if stop is not None and stop():
                raise ClientGone()
            results[index] = await fn(item)

    if len(items) <= 1 or limit == 1:
        # Nothing would run beside anything else: one worker awaited in place, no tasks (a task
        # costs two trips through the event loop).
        await worker()
        return results
    workers = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(items)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        raise
    return results
