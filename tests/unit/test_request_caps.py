"""The per-request caps and bounded concurrency (issue 16), under CPython."""

from __future__ import annotations

import asyncio

import pytest

from gateway import limits
from gateway.request_caps import ClientGone, RequestCaps, bounded_map
from gateway.errors import ApiError


def test_reserve_refuses_before_anything_is_spent():
    caps = RequestCaps(max_calls=3)
    with pytest.raises(ApiError) as caught:
        caps.reserve(4)
    assert caught.value.status == 400 and caught.value.code == "too_many_ai_calls" and caps.calls == 0
    for _ in range(3):
        caps.spend()
    with pytest.raises(ApiError):
        caps.spend()


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
    gone = RequestCaps(client_gone=lambda: len(issued) >= 10)

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


def test_the_caps_count_from_zero_and_stop_exactly_at_the_limit():
    caps = RequestCaps()
    assert (caps.max_calls, caps.max_fetches, caps.calls, caps.fetches) == (200, 2, 0, 0)
    caps = RequestCaps(max_calls=3)
    caps.spend()
    caps.reserve(2)  # 1 spent + 2 = 3: allowed
    with pytest.raises(ApiError) as caught:
        caps.reserve(3)
    assert "needs 4 Workers AI calls" in caught.value.message and "at most 3" in caught.value.message
    caps.spend()
    caps.spend()
    with pytest.raises(ApiError) as caught:
        caps.spend()
    assert "needs 4 Workers AI calls" in caught.value.message and caps.calls == 3


def test_two_remote_fetches_and_no_third():
    caps = RequestCaps()
    caps.spend_fetch()
    caps.spend_fetch()
    with pytest.raises(ApiError) as caught:
        caps.spend_fetch()
    error = caught.value
    assert (error.status, error.code, error.param) == (400, "too_many_fetches", "image_url") and caps.fetches == 2
    gone = RequestCaps(client_gone=lambda: True)
    with pytest.raises(ClientGone):
        gone.spend_fetch()
    assert gone.fetches == 0


def test_a_client_that_left_is_a_499():
    error = ClientGone()
    assert (error.status, error.type, error.code) == (499, "server_error", "client_closed_request")


def test_a_failure_stops_every_worker_of_bounded_map():
    started = []

    async def work(item):
        started.append(item)
        if item == 3:
            raise ValueError("broken")
        await asyncio.sleep(0.01)
        return item

    async def run_then_wait():
        with pytest.raises(ValueError):
            await bounded_map(work, range(100), 4)
        await asyncio.sleep(0.1)  # time enough for workers left running to start many more

    asyncio.run(run_then_wait())
    assert len(started) < 10  # the others are cancelled, no new item starts
