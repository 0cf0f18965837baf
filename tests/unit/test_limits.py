"""What one request may bring in (limits.py): body sizes, JSON structure, lone surrogates, header
values. Expected figures are literals worked out by hand (or by json.loads), never by the code."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest

from gateway import app, limits
from gateway.errors import ApiError
from gateway.http import Response
from gateway.routing import Route, Router

from fakes import make_platform, make_request, run

MiB = 1_048_576


# --- body limits ------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, limit", [
    ("/v1/chat/completions", 16_777_216),
    # The same conversations (a 160-turn, 86 KB one got 413 at 64 KB) and images as chat.
    ("/v1/completions", 16_777_216),
    ("/v1/responses", 16_777_216),
    ("/v1/images/generations", 16_777_216),
    ("/v1/embeddings", 2_097_152),
    ("/v1/audio/transcriptions", 26_279_936),
    ("/v1/audio/translations", 26_279_936),
    ("/v1/audio/speech", 65_536),
    ("/translate", 1_048_576),
    ("/v2/translate", 1_048_576),
    ("/ai/run/{model:path}", 16 * 1_048_576),
    ("/v1/models", 65_536),
    ("/v1/moderations", 65_536),
    ("/no/such/route", 65_536),
])
def test_body_limit_per_route(pattern, limit):
    assert limits.body_limit(pattern) == limit


def test_every_body_limit_names_a_route_pattern():
    # A key that is no route's pattern (a typo, a route renamed) would silently fall back to 64 KB.
    patterns = {route.pattern for route in app.ROUTER.routes}
    assert set(limits.BODY_LIMITS) <= patterns


def test_the_constants():
    assert (limits.MiB, limits.DEFAULT_BODY_BYTES, limits.MAX_JSON_VALUES, limits.MAX_JSON_DEPTH,
            limits.MAX_HEADER_VALUE_CHARS) == (1_048_576, 65_536, 310_000, 100, 256)


@pytest.mark.parametrize("size, limit, message", [
    (20_000_000, 16_777_216, "The request body is 20000000 bytes; the limit here is 16777216 bytes (16 MB)."),
    (None, 65_536, "The request body is larger than the limit; the limit here is 65536 bytes (64 KB)."),
    (2_000_000, 1_048_576, "The request body is 2000000 bytes; the limit here is 1048576 bytes (1 MB)."),
    (1_048_576, 1_048_575, "The request body is 1048576 bytes; the limit here is 1048575 bytes (1023 KB)."),
    (30_000_000, 26_279_936, "The request body is 30000000 bytes; the limit here is 26279936 bytes (25.0625 MB)."),
])
def test_the_413_names_the_size_and_the_limit(size, limit, message):
    error = limits.body_too_large(size, limit)
    assert (error.status, error.code, error.message) == (413, "request_too_large", message)


def test_a_body_over_the_route_limit_is_refused_from_content_length():
    async def go():
        request = make_request("POST", "/v1/responses", headers={"content-length": "16777217"}, body=b"{}")
        request.max_body_bytes = limits.body_limit("/v1/responses")
        with pytest.raises(ApiError) as caught:
            await request.json()
        return caught.value

    error = run(go())
    assert error.status == 413 and error.message.startswith("The request body is 16777217 bytes; the limit here is 16777216")


# --- how much a JSON body may build --------------------------------------------------------------------

def over(text, at_most):
    """What callers ask of count_json_values: is it more than `at_most`?"""
    return limits.count_json_values(text, at_most) > at_most


# (JSON text, its units: values + strings, keys included), counted by hand.
UNITS = [
    ("1", 1),
    ("[1,2,3]", 4),
    ('{"a":1}', 4),
    ("[{},{},{}]", 7),
    ("[[],[],[]]", 7),
    ('{"a":[1,{"b":null}],"c":"d"}', 13),
    # Commas, colons and brackets inside strings are text, not values.
    ('{"csv":"a,b,c,[d]{e}:f"}', 5),
    ('["x,y", "{[:", ",,,"]', 7),
    # An escaped backslash ends before the quote, which closes the string: `{},{}` are values.
    (r'["a\\",{},{}]', 7),
    # An escaped quote does not close it: `,{},{}` stay text.
    (r'["a\",{},{}"]', 3),
    (r'["\\\"x,", {}]', 5),
    (r'["\\\\",{}]', 5),
    # An unclosed string counts as a string; what follows its quote is text.
    ('[{},"a,b', 5),
    ('[{},"a', 5),
]


@pytest.mark.parametrize("kind", [str, bytes])
@pytest.mark.parametrize("text, units", UNITS)
def test_units_are_counted_outside_strings(text, units, kind):
    raw = text if kind is str else text.encode()
    assert not over(raw, units)
    assert over(raw, units - 1)


@pytest.mark.parametrize("text, units", UNITS[:-2])
def test_the_hand_counts_agree_with_json_loads(text, units):
    """The same units from what json.loads builds (an oracle apart from limits.py): the root, a
    comma before every member but a container's first, a bracket per container, a colon and a
    string per key, and every string value."""
    def units_in(value):
        if isinstance(value, dict):
            members = list(value.values())
            own = 1 + 2 * len(members)  # bracket; colon and key string per member
        elif isinstance(value, list):
            members, own = value, 1
        else:
            return 1 if isinstance(value, str) else 0
        return own + max(len(members) - 1, 0) + sum(units_in(member) for member in members)

    assert 1 + units_in(json.loads(text)) == units


@pytest.mark.parametrize("text, at_most, answer", [
    # Within the bound of every mark and quote, that bound is the answer (no skeleton is made).
    ("[1,2,3]", 4, 4),
    ('{"csv":"a,b"}', 9, 6),
    # More strings than at_most: the strings (+1) answer, without splitting them out.
    ('["a","b","c"]', 3, 4),
    ('["a","b","c"]', 2, 4),
    # Otherwise the exact units.
    ('["a","b","c"]', 6, 7),
    ('{"csv":"a,b,c,[d]{e}:f"}', 5, 5),
    ('{"csv":"a,b,c,[d]{e}:f"}', 4, 5),
    ('{"csv":"a,b,c,[d]{e}:f"', 4, 5),
    ('["a,b","c', 4, 5),
    ('["a,b","c,', 2, 3),
])
def test_the_answer_at_each_stage(text, at_most, answer):
    assert limits.count_json_values(text, at_most) == answer
    assert limits.count_json_values(text.encode(), at_most) == answer


def test_each_stage_answers_with_its_own_figure():
    # The plain count takes an escaped quote for an edge (4); the skeleton does not (3).
    assert limits.count_json_values(r'["a\"b"]', 4) == 4
    assert limits.count_json_values(rb'["a\"b"]', 4) == 3
    # Within the skeleton's bound, that bound (7) is the answer, not the exact 5.
    assert limits.count_json_values(b'{"csv":"a,b,c"}', 7) == 7
    assert limits.count_json_values(b'{"csv":"a,b,c"}', 6) == 5


def test_a_raw_surrogate_in_a_str_is_counted_not_raised():
    # The runtime's strict UTF-8 never yields one; a str from elsewhere may, and is still counted.
    assert limits.count_json_values('["\ud800,x", 1]', 3) == 4


def test_the_default_cap_is_max_json_values():
    ids = "[" + "7," * 309_999 + "7]"  # 310 000 values and its bracket: 310 001 units
    assert limits.count_json_values(ids) == 310_001
    assert limits.count_json_values("[" + "7," * 309_998 + "7]") == 310_000


@pytest.mark.parametrize("kind", [str, bytes])
def test_strings_across_slice_edges(kind):
    """Skeletons are made 1 MiB at a time and strings split out 64 KiB at a time: a string (or an
    escaped backslash) across either edge is still a string."""
    # `\\` straddles the 1 MiB edge: cut there, `\"` would read as an escaped quote and the string
    # would swallow `,{},{}`.
    across_escape = '["' + "," * (MiB - 3) + "\\\\" + '",{},{}]'
    assert across_escape[MiB - 1:MiB + 1] == "\\\\"
    across_split = '["' + "," * 70_000 + '",{},{},"' + "," * 70_000 + '",[]]'
    for text, units in ((across_escape, 7), (across_split, 11)):
        raw = text if kind is str else text.encode()
        assert not over(raw, units)
        assert over(raw, units - 1)


def test_a_long_run_of_backslashes_is_not_cut():
    text = '["' + "," * (MiB - 10) + "\\" * 40 + '",{}]'
    assert not over(text, 5)
    assert over(text, 4)


def test_more_than_a_slice_of_backslashes():
    # 2 MiB of backslashes (1 MiB escaped ones): the first slice may not end inside the run, nor
    # shrink to nothing before it.
    text = '["' + "\\" * (2 * MiB) + '",{},"a,b"]'
    assert not over(text, 7)
    assert over(text, 6)


def test_a_large_str_is_reduced_a_slice_at_a_time():
    text = '["' + ("abcdefghij" * 5 + ",") * 160_000 + '"]'  # 8 MB, 160 000 commas in one string
    tracemalloc.start()
    try:
        assert limits.count_json_values(text, 10) == 3
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Three copies of 1 MiB at most at a time (the slice, its UTF-8, its translation), not of 8 MB.
    assert peak < 6 * MiB


def test_token_ids_and_a_csv_pass_parse_json():
    ids = list(range(1000, 301_000))  # the documented 300 000 token ids of one embeddings request
    body = json.dumps({"model": "text-embedding-3-small", "input": ids})
    assert limits.parse_json(body)["input"] == ids
    nested = json.dumps({"model": "text-embedding-3-small", "input": [ids[i:i + 147] for i in range(0, 300_000, 147)]})
    assert len(limits.parse_json(nested)["input"]) == 2041
    # 270 KB and 120 000 commas: over the 100 000 values that counting every comma allowed.
    csv = "\n".join(",".join(str((row + col) % 10) for col in range(9)) for row in range(15_000))
    assert csv.count(",") == 120_000
    chat = json.dumps({"model": "m", "messages": [{"role": "user", "content": csv}]})
    assert len(chat) > 270_000
    assert limits.parse_json(chat)["messages"][0]["content"] == csv


@pytest.mark.parametrize("item", ["{}", "[]"])
def test_empty_containers_count_twice(item):
    # [{},{},...]: 1 + (n - 1) commas + (n + 1) brackets = 2n + 1 units, so 155 000 are one too many.
    refused = "[" + ",".join([item] * 155_000) + "]"
    with pytest.raises(ApiError) as caught:
        limits.parse_json(refused)
    assert (caught.value.status, caught.value.code) == (400, "json_too_complex")
    assert caught.value.message == "The JSON body holds more than 310000 values."
    assert len(limits.parse_json("[" + ",".join([item] * 154_999) + "]")) == 154_999


def test_json_of_16_mb_of_empty_objects_is_refused_fast():
    body = "[" + ",".join(["{}"] * 5_500_000) + "]"
    started = time.perf_counter()
    with pytest.raises(ApiError) as caught:
        limits.parse_json(body)
    assert caught.value.code == "json_too_complex"
    assert limits.count_json_values(body.encode()) > 310_000
    assert time.perf_counter() - started < 2  # scans, not parsing (json.loads of it takes seconds)


def test_parse_json_takes_its_cap():
    assert limits.parse_json("[1,2]", max_values=3) == [1, 2]
    with pytest.raises(ApiError) as caught:
        limits.parse_json("[1,2,3]", max_values=3)
    assert caught.value.message == "The JSON body holds more than 3 values."


def test_parse_json_errors():
    with pytest.raises(ApiError) as caught:
        limits.parse_json("[" * 101 + "]" * 101)
    assert (caught.value.status, caught.value.code) == (400, "json_too_deep")
    assert caught.value.message == "The JSON body nests more than 100 levels deep (or its brackets do not balance)."
    with pytest.raises(ApiError) as caught:
        limits.parse_json('{"a": }')
    assert (caught.value.status, caught.value.code) == (400, "invalid_json")
    assert caught.value.message.startswith("The request body is not valid JSON: Expecting value")
    assert limits.parse_json('{"a": [1, "b", null]}') == {"a": [1, "b", None]}


def test_a_recursion_error_in_the_parser_is_a_400(monkeypatch):
    def overflow(raw):
        raise RecursionError

    monkeypatch.setattr(limits.json, "loads", overflow)
    with pytest.raises(ApiError) as caught:
        limits.parse_json("[1]")
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        400, "json_too_deep", "The JSON body is nested too deeply.")


@pytest.mark.parametrize("text, deep", [
    ("[" * 100 + "]" * 100, False),
    ("[" * 101 + "]" * 101, True),
    ('{"a":' * 101 + "1" + "}" * 101, True),
    # Too few brackets to nest that deep: not looked at (json.loads reports the imbalance).
    ("[" * 100, False),
    ("[" * 101, True),
    # Many brackets, shallow.
    ("[" + "[[]]," * 60 + "1]", False),
    ("[" + "{}," * 150 + "1]", False),
    # Brackets in strings are text, also after escapes (`"\n"` once read as an escaped quote).
    ('[' + '"\\n",' * 3 + "[]," * 120 + '"[[[[\\"[[["]', False),
    ('["\\\\", ' + "[]," * 120 + "1]", False),
    ('[' + '"]]]]",' * 30 + "[" * 101 + "]" * 101 + "]", True),
])
def test_depth(text, deep):
    assert limits.too_deep(text) is deep


# --- lone surrogates --------------------------------------------------------------------------------

SURROGATE_CASES = [
    r'"\ud800"', r'"\uDC00"', r'"x\udbffy"', r'{"\ud800": 1}',
    r'"\ud83d\ude00"', r'"\uD83D\uDE00"', r'"\udbff\udfff"',
    r'"\ud800\ud800\udc00"', r'"\ud800\udc00\udc00"', r'"\udc00\ud800"',
    # `\\` is an escaped backslash: `\\ud800` is a backslash and the text ud800.
    r'"\\ud800"', r'"\\\ud800"', r'"\\\\ud800"', r'"\ud800\\\udc00"', r'"\ud800\\udc00"',
    r'"\ud7ff\ue000"', r'"\u00e9 caf\u00e9"', '"plain"', '"\\n\\t"',
]


@pytest.mark.parametrize("text", SURROGATE_CASES)
def test_lone_surrogates_as_json_loads_sees_them(text):
    decoded = json.dumps(json.loads(text), ensure_ascii=False)
    try:
        decoded.encode("utf-8")
        lone = False
    except UnicodeEncodeError:
        lone = True
    assert limits.has_lone_surrogate(text) is lone


def test_lone_surrogate_is_a_400():
    with pytest.raises(ApiError) as caught:
        limits.parse_json(r'{"model": "m", "messages": [{"role": "user", "content": "a\ud800b"}]}')
    assert (caught.value.status, caught.value.code) == (400, "invalid_unicode")
    assert "lone surrogate" in caught.value.message
    assert limits.parse_json(r'{"e": "\ud83d\ude00"}') == {"e": "\U0001f600"}


# --- header values -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, ok", [
    ("@cf/meta/llama-3.1-8b-instruct-fast", True), (" ~", True), ("", True), ("x" * 256, True), ("x" * 257, False),
    ("a\r\nb", False), ("a\0", False), ("a\x7f", False), ("a\x1f", False), ("modèle", False),
])
def test_header_safe(value, ok):
    assert limits.is_header_safe(value) is ok


@pytest.mark.parametrize("values, ok", [
    (["a" * 8192, "b"], True),
    (["a" * 8193], False),
    (["ok", "a\r\nInjected: 1"], False),
    (["ok", "é"], False),
    ([], True),
])
def test_are_headers_safe(values, ok):
    assert limits.are_headers_safe(iter(values), 8192) is ok


def test_is_header_safe_takes_its_length():
    assert limits.is_header_safe("abcd", 4) is True
    assert limits.is_header_safe("abcde", 4) is False


def _guarded(value: str):
    """The pipeline with one route whose answer carries `value` in a header."""
    async def handler(ctx):
        return Response(200, b"ok", {"X-Thing": value})

    router = Router([Route(("GET",), "/thing", handler, public=True)])
    return router


@pytest.mark.parametrize("value, status", [("a" * 8192, 200), ("a" * 8193, 500), ("a\r\nInjected: 1", 500),
                                           ("caf\u00e9", 500), ("fine value", 200)])
def test_the_last_resort_header_guard(monkeypatch, value, status):
    """Whatever slipped past the edge checks into a response header, the runtime never sees it:
    the answer becomes a plain 500 (with its CORS headers)."""
    monkeypatch.setattr(app, "ROUTER", _guarded(value))
    platform = make_platform(cors_allow_origins=("https://app.example",))
    response = run(app.handle(make_request("GET", "/thing", headers={"Origin": "https://app.example"}), platform))
    assert response.status == status
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    if status == 500:
        assert "X-Thing" not in response.headers
        assert json.loads(response.body)["error"]["code"] == "internal_error"
    else:
        assert response.headers["X-Thing"] == value


def test_the_json_text_python_may_hold_is_two_mebi_characters():
    assert limits.MAX_JSON_TEXT_CHARS == 2_097_152
    error = limits.text_too_long(2_097_153, 2_097_152)
    assert (error.status, error.code) == (413, "request_too_large")
    assert error.message == "The request's JSON holds 2097153 characters besides its images; the limit is 2097152."
