"""What per-request work was cut to (issue 18) must still answer as before: static routes by lookup,
ids from a seeded generator, the cached date and key hashes, a single item mapped in place."""

from __future__ import annotations

import re

import pytest

from gateway import ids, usage
from gateway.request_caps import ClientGone, bounded_map
from gateway.errors import ApiError
from gateway.routing import Route, Router

from fakes import run


async def _handler(**params):
    return params


ROUTER = Router([
    Route(("GET",), "/v1/models", _handler),
    Route(("GET",), "/v1/models/{model:path}", _handler),
    Route(("POST",), "/v1/images/generations", _handler),
    Route(("GET",), "/v1/images/generations", _handler),
    Route(("GET",), "/static/{name}", _handler),
    Route(("POST",), "/static/fixed", _handler),
])


@pytest.mark.parametrize("method, path, pattern, params", [
    ("GET", "/v1/models", "/v1/models", {}),
    ("GET", "/v1/models/", "/v1/models", {}),
    ("GET", "/v1/models/@cf/meta/llama", "/v1/models/{model:path}", {"model": "@cf/meta/llama"}),
    ("POST", "/v1/images/generations", "/v1/images/generations", {}),
    ("GET", "/v1/images/generations", "/v1/images/generations", {}),
    ("HEAD", "/v1/images/generations", "/v1/images/generations", {}),
    # A fixed path that a parameter route also fits is resolved by trying the routes in order.
    ("GET", "/static/fixed", "/static/{name}", {"name": "fixed"}),
    ("POST", "/static/fixed", "/static/fixed", {}),
])
def test_routes_resolve_as_by_trying_every_pattern(method, path, pattern, params):
    match = ROUTER.resolve(method, path)
    assert (match.route.pattern, match.params) == (pattern, params)


def test_a_fixed_path_with_the_wrong_method_is_a_405_listing_every_route_of_it():
    with pytest.raises(ApiError) as error:
        ROUTER.resolve("DELETE", "/v1/images/generations")
    assert error.value.status == 405 and error.value.headers["Allow"] == "POST, GET, HEAD, OPTIONS"
    with pytest.raises(ApiError) as missing:
        ROUTER.resolve("GET", "/v1/modelsx")
    assert missing.value.status == 404


def test_ids_are_hex_of_the_asked_length_and_do_not_repeat():
    made = {ids.hex_id(24) for _ in range(2000)}
    assert len(made) == 2000 and all(re.fullmatch(r"[0-9a-f]{24}", i) for i in made)
    assert all(0 <= ids.below(10) < 10 for _ in range(200)) and len({ids.below(10**10) for _ in range(50)}) == 50


def test_the_cached_utc_day_follows_the_clock_across_midnight():
    midnight = 1795651200  # 2026-11-26 00:00:00 UTC
    assert usage.utc_day(midnight - 1) == "2026-11-25"
    assert usage.utc_day(midnight) == "2026-11-26"
    assert usage.utc_day(midnight - 86400 * 365) == "2025-11-26"
    assert usage.utc_day(midnight + 0.5) == "2026-11-26"


def test_key_hashes_are_stable_and_bounded():
    first = usage.key_hash("sk-one")
    assert usage.key_hash("sk-one") == first != usage.key_hash("sk-two")
    bound = usage.key_hash.cache_info().maxsize
    for n in range(2 * bound):
        usage.key_hash(f"sk-{n}")
    assert usage.key_hash.cache_info().currsize <= bound


def test_a_single_item_is_mapped_in_place_and_still_stops_for_a_gone_client():
    async def double(x):
        return 2 * x

    assert run(bounded_map(double, [21], 4)) == [42]
    assert run(bounded_map(double, [1, 2, 3], 1)) == [2, 4, 6]
    with pytest.raises(ClientGone):
        run(bounded_map(double, [1], 4, stop=lambda: True))
