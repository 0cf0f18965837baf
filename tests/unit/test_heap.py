"""The isolate's heap pool (`heap.py`): what a body's text costs, who waits, and that every take is
given back (an answer's end, a stream's end, a wait that timed out or was cancelled)."""

from __future__ import annotations

import asyncio
import json

import pytest

from fakes import make_platform, make_request, run
from gateway import heap
from gateway.app import handle
from gateway.errors import ApiError
from gateway.http import JsonResponse, RelayResponse, Response, StreamResponse, finish_with

MiB = 1024 * 1024


def test_a_str_takes_1_2_or_4_bytes_a_character():
    assert heap.utf8_width(b"plain ascii") == 1
    assert heap.utf8_width("café ÿ".encode()) == 1  # up to U+00FF: one byte a character
    assert heap.utf8_width("Ā".encode()) == 2  # U+0100
    assert heap.utf8_width("日本語".encode()) == 2
    assert heap.utf8_width("\uffff".encode()) == 2
    assert heap.utf8_width("a😀".encode()) == 4
    assert heap.utf8_width(b"") == 1


def test_a_texts_cost_is_its_text_twice_and_its_values():
    assert heap.text_cost(1000, 1) == 2000
    assert heap.text_cost(1000, 4, 10) == 8000 + 640
    assert heap.SMALL == 256 * 1024 and heap.CAPACITY == 40 * MiB
    assert heap.Pool().capacity == 40 * MiB and heap.Pool().wait_seconds == heap.WAIT_SECONDS == 30.0


def test_a_take_that_fits_exactly_never_waits():
    async def scenario():
        pool = heap.Pool(100, wait_seconds=5)
        await pool.take(60)
        taking = pool.take(40)
        with pytest.raises(StopIteration) as done:
            taking.send(None)  # finished without yielding to the event loop once
        assert done.value.value == 40 and pool.used == 100

    run(scenario())


@pytest.mark.parametrize("wait_seconds", [5, 0])  # with no time to wait, a request still looks once
def test_a_waiter_gets_in_within_a_poll_of_room_freeing(wait_seconds):
    async def scenario():
        pool = heap.Pool(100, wait_seconds=wait_seconds)
        await pool.take(100)
        waiting = asyncio.ensure_future(pool.take(50))
        await asyncio.sleep(0)
        pool.give(100)
        assert await asyncio.wait_for(waiting, 0.2) == 50 and pool.used == 50

    run(scenario())


def test_takes_fit_until_the_capacity_then_wait_in_order():
    async def scenario():
        pool = heap.Pool(100, wait_seconds=5)
        assert await pool.take(60) == 60
        assert await pool.take(40) == 40 and pool.used == 100
        order = []

        async def waiter(name, size):
            await pool.take(size)
            order.append(name)

        first = asyncio.ensure_future(waiter("first", 50))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(waiter("second", 10))  # would fit after first; must not pass it
        await asyncio.sleep(0.1)
        assert order == [] and pool.used == 100
        pool.give(40)
        await asyncio.sleep(0.1)
        assert order == [] and pool.used == 60  # 50 does not fit yet, and 10 waits behind it
        pool.give(60)
        await asyncio.gather(first, second)
        assert order == ["first", "second"] and pool.used == 60

    run(scenario())


def test_a_take_larger_than_the_pool_runs_alone():
    async def scenario():
        pool = heap.Pool(100, wait_seconds=5)
        assert await pool.take(500) == 100 and pool.used == 100
        pool.give(100)
        assert pool.used == 0

    run(scenario())


def test_a_wait_past_its_time_is_a_503_and_takes_nothing():
    async def scenario():
        pool = heap.Pool(100, wait_seconds=0.1)
        await pool.take(90)
        with pytest.raises(ApiError) as caught:
            await pool.take(20)
        assert (caught.value.status, caught.value.code, caught.value.type) == (503, "server_busy", "server_error")
        assert caught.value.headers["Retry-After"] == "2"
        assert pool.used == 90
        pool.give(90)
        assert await pool.take(100) == 100

    run(scenario())


def test_a_timed_out_waiter_lets_a_smaller_one_behind_it_in():
    async def scenario():
        pool = heap.Pool(100, wait_seconds=0.3)
        await pool.take(70)
        big = asyncio.ensure_future(pool.take(50))
        await asyncio.sleep(0.15)  # the small one's own wait ends well after the big one's
        small = asyncio.ensure_future(pool.take(30))
        await asyncio.sleep(0.1)
        assert not small.done()  # behind the big one, though it fits
        with pytest.raises(ApiError):
            await big
        assert await small == 30 and pool.used == 100

    run(scenario())


def test_a_cancelled_waiter_leaves_nothing_taken_and_no_place_in_line():
    async def scenario():
        pool = heap.Pool(100, wait_seconds=5)
        await pool.take(100)
        waiting = asyncio.ensure_future(pool.take(50))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        pool.give(100)
        assert pool.used == 0
        assert await pool.take(100) == 100  # at once: nobody is in line before it

    run(scenario())


def test_a_share_takes_once_and_only_past_small():
    async def scenario():
        pool = heap.Pool(10 * MiB, wait_seconds=5)
        share = heap.Share(pool)
        await share.take(heap.SMALL - 1)
        assert pool.used == 0 and share.held == 0
        await share.take(heap.SMALL)
        assert pool.used == heap.SMALL == share.held
        await share.take(5 * MiB)  # a second take: the first already counted the request's text
        assert pool.used == heap.SMALL
        share.give_back()
        share.give_back()
        assert pool.used == 0 and share.held == 0

    run(scenario())


def test_a_complete_answer_gives_back_at_once_a_stream_at_its_end():
    given = []
    finish_with(Response(200, b"x"), lambda: given.append("response"))
    finish_with(JsonResponse({}), lambda: given.append("json"))
    assert given == ["response", "json"]

    async def chunks():
        yield "x"

    stream = StreamResponse(chunks())
    finish_with(stream, lambda: given.append("first"))
    finish_with(stream, lambda: given.append("second"))
    relay = RelayResponse(source=None, relay=None, idle_seconds=1)
    finish_with(relay, lambda: given.append("relay"))
    assert given == ["response", "json"]
    stream.on_close()
    relay.on_close()
    assert given == ["response", "json", "first", "second", "relay"]


def test_an_earlier_callback_that_fails_still_lets_the_share_go():
    given = []

    async def chunks():
        yield "x"

    stream = StreamResponse(chunks(), on_close=lambda: 1 / 0)
    finish_with(stream, lambda: given.append("share"))
    with pytest.raises(ZeroDivisionError):
        stream.on_close()
    assert given == ["share"]


def big_chat_body(characters: int, text: str = "a") -> dict:
    # A model whose contract sets no per-message maxLength (llama-3.1-8b's is 131 072 characters).
    return {"model": "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "messages": [{"role": "user", "content": text * characters}]}


def test_the_app_takes_a_big_bodys_text_cost_and_gives_it_back_with_the_answer(monkeypatch):
    pool = heap.Pool(heap.CAPACITY, wait_seconds=5)
    monkeypatch.setattr(heap, "POOL", pool)
    seen = []

    def ai(model, inputs):
        seen.append(pool.used)
        return {"response": "ok"}

    from fakes import FakeAi

    platform = make_platform(ai=FakeAi(ai))
    body = big_chat_body(400_000, "😀")  # 400 000 characters outside the BMP, sent as \\ud83d\\ude00 escapes
    raw = json.dumps(body).encode()
    request = make_request("POST", "/v1/chat/completions", headers={"authorization": "Bearer sk-unit",
                           "content-type": "application/json"}, body=raw)
    response = run(handle(request, platform))
    assert response.status == 200, response.body
    # All ASCII as sent (escapes): the JSON text twice at a byte a character, and its units: 2 `{`,
    # 1 `[`, 4 `:`, 2 `,`, 7 strings and 1 (limits.count_json_values) = 17.
    assert seen == [2 * len(raw) + 17 * heap.VALUE_BYTES]
    assert pool.used == 0


def test_a_small_body_never_touches_the_pool(monkeypatch):
    pool = heap.Pool(0, wait_seconds=0.01)  # a full pool: a take would fail
    monkeypatch.setattr(heap, "POOL", pool)
    from fakes import FakeAi

    platform = make_platform(ai=FakeAi({"response": "ok"}))
    request = make_request("POST", "/v1/chat/completions", headers={"authorization": "Bearer sk-unit",
                           "content-type": "application/json"}, body=big_chat_body(1000))
    assert run(handle(request, platform)).status == 200


def test_a_big_body_waits_for_room_and_is_503_when_none_comes(monkeypatch):
    pool = heap.Pool(heap.CAPACITY, wait_seconds=0.01)
    monkeypatch.setattr(heap, "POOL", pool)
    run(pool.take(heap.CAPACITY))
    from fakes import FakeAi

    ai = FakeAi({"response": "ok"})
    request = make_request("POST", "/v1/chat/completions", headers={"authorization": "Bearer sk-unit",
                           "content-type": "application/json"}, body=big_chat_body(300_000))
    response = run(handle(request, make_platform(ai=ai)))
    assert response.status == 503 and json.loads(response.body)["error"]["code"] == "server_busy"
    assert ai.calls == [] and pool.used == heap.CAPACITY
