"""The per-request budget and bounded concurrency (issue 16), under CPython."""

from __future__ import annotations

import asyncio

import pytest

from gateway import limits
from gateway.budget import Budget, ClientGone, bounded_map
from gateway.errors import ApiError


def test_reserve_refuses_before_anything_is_spent():
    budget = Budget(max_calls=3)
    with pytest.raises(ApiError) as caught:
        budget.reserve(4)
    assert caught.value.status == 400 and caught.value.code == "too_many_ai_calls" and budget.calls == 0
    for _ in range(3):
        budget.spend()
    with pytest.raises(ApiError):
        budget.spend()


def test_bounded_map_keeps_order_and_never_runs_more_than_the_limit():
    running, peak, started = [0], [0], []

    async def work(item):
        started.append(item)
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0)
        running[0] -= 1
        return item * 2

    assert asyncio.run(bounded_map(work, range(1000), 6)) == [i * 2 for i in range(1000)]
    assert peak[0] == 6 and len(started) == 1000


def test_bounded_map_stops_issuing_work_once_the_client_has_gone():
    issued = []
    gone = Budget(client_gone=lambda: len(issued) >= 10)

    async def work(item):
        issued.append(item)
        await asyncio.sleep(0)
        return item

    with pytest.raises(ClientGone):
        asyncio.run(bounded_map(work, range(3000), 6, stop=gone.client_gone))
    assert len(issued) < 20  # not 3 000: at most the calls already in flight finish
    with pytest.raises(ClientGone):
        gone.spend()


@pytest.mark.parametrize("text, deep", [("[" * 100 + "]" * 100, False), ("[" * 101 + "]" * 101, True), ("[" * 5000, True),
                                         ('[{"a":"[[[[[[[["}]' * 1, False), ('{"a":' * 101 + "1" + "}" * 101, True)])
def test_json_depth(text, deep):
    assert limits.too_deep(text) is deep


@pytest.mark.parametrize("value, ok", [("@cf/meta/llama-3.1-8b-instruct-fast", True), ("a\r\nb", False), ("a\0", False),
                                        ("x" * 257, False), ("modèle", False)])
def test_header_safe(value, ok):
    assert limits.is_header_safe(value) is ok
