"""CORS (cors.py): which origins may read the API's answers from a browser, and the preflight."""

from __future__ import annotations

import pytest

from gateway import cors
from gateway.app import handle
from gateway.config import Settings

from fakes import make_platform, make_request, run

EXPOSED = ("X-Model, X-Requested-Model, X-Model-Resolution, X-Usage-Estimated, Retry-After, ETag, X-Dropped-Params, "
           "X-Clamped-Params, X-Mapped-Params, X-Catalog-Source, X-Moderation-Scores")
LISTED = Settings(cors_allow_origins=("https://app.example", "http://localhost:3000"))


def headers_for(settings, origin=None, **more):
    headers = {"origin": origin} if origin is not None else {}
    return cors.cors_headers(make_request(headers={**headers, **more}), settings)


def test_any_origin_by_default():
    expected = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": EXPOSED}
    assert headers_for(Settings(), "https://anything.example") == expected
    # `*` needs no Origin and does not vary by it.
    assert headers_for(Settings()) == expected
    assert headers_for(Settings(cors_allow_origins=("https://app.example", "*")), "https://other.example") == expected


@pytest.mark.parametrize("origin", ["https://app.example", "http://localhost:3000"])
def test_a_listed_origin_is_echoed_and_varies(origin):
    assert headers_for(LISTED, origin) == {
        "Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSED, "Vary": "Origin"}


@pytest.mark.parametrize("origin", [
    "https://app.example.evil.com",   # the listed origin as a prefix
    "https://evil.app.example",        # as a suffix
    "https://app.exampl",              # a prefix of it
    "http://app.example",              # another scheme
    "https://app.example:8443",        # another port
    "https://APP.example",             # another spelling
    "http://localhost:30001",
    "https://app.example/",
    "null",
    "",
])
def test_origins_match_exactly(origin):
    # Not let in, and the answer still varies by Origin (a cache must not reuse it for a listed one).
    assert headers_for(LISTED, origin) == {"Vary": "Origin"}


def test_no_origin_with_a_list():
    assert headers_for(LISTED) == {"Vary": "Origin"}


def test_preflight_of_a_listed_origin():
    request = make_request("OPTIONS", "/v1/chat/completions", headers={
        "origin": "https://app.example", "access-control-request-headers": "authorization, x-custom"})
    response = cors.preflight(request, LISTED)
    assert (response.status, response.body) == (204, b"")
    assert response.headers == {
        "Access-Control-Allow-Origin": "https://app.example",
        "Access-Control-Expose-Headers": EXPOSED,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "authorization, x-custom",
        "Access-Control-Max-Age": "86400",
    }


def test_preflight_without_requested_headers_lists_ours():
    response = cors.preflight(make_request("OPTIONS", "/v1/models", headers={"origin": "https://x.example"}), Settings())
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Headers"] == (
        "Authorization, Content-Type, DeepL-Auth-Key, OpenAI-Organization, OpenAI-Project, X-Requested-With")
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    assert response.headers["Access-Control-Max-Age"] == "86400"


def test_preflight_of_another_origin_allows_nothing():
    request = make_request("OPTIONS", "/v1/models", headers={
        "origin": "https://app.example.evil.com", "access-control-request-headers": "authorization"})
    response = cors.preflight(request, LISTED)
    assert (response.status, response.headers) == (204, {"Vary": "Origin"})


def test_the_pipeline_adds_them_to_every_answer():
    platform = make_platform(cors_allow_origins=("https://app.example",))
    ok = run(handle(make_request("GET", "/health", headers={"Origin": "https://app.example"}), platform))
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example" and ok.headers["Vary"] == "Origin"
    error = run(handle(make_request("GET", "/v1/models", headers={"Origin": "https://app.example"}), platform))
    assert error.status == 401 and error.headers["Access-Control-Allow-Origin"] == "https://app.example"
    other = run(handle(make_request("GET", "/health", headers={"Origin": "https://app.example.evil.com"}), platform))
    assert "Access-Control-Allow-Origin" not in other.headers and other.headers["Vary"] == "Origin"
