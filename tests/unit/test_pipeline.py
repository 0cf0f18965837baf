"""The request pipeline: preflight, routing, auth, errors."""

import json

import pytest

from gateway.app import handle
from gateway.auth import key_matches, presented_key

from fakes import FakeAi, make_platform, make_request, run

KEY = {"Authorization": "Bearer sk-unit"}


def body(response):
    return json.loads(response.body)


def test_health_is_public():
    response = run(handle(make_request("GET", "/health"), make_platform()))
    assert response.status == 200
    assert body(response)["runtime"] == "test"


def test_options_anywhere_is_a_204_preflight_without_a_key():
    response = run(handle(make_request("OPTIONS", "/v1/anything", headers={"Origin": "https://x"}), make_platform()))
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_configured_origins_only():
    platform = make_platform(cors_allow_origins=("https://app.example",))
    allowed = run(handle(make_request("GET", "/health", headers={"Origin": "https://app.example"}), platform))
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert allowed.headers["Vary"] == "Origin"
    other = run(handle(make_request("GET", "/health", headers={"Origin": "https://evil.example"}), platform))
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize(
    "headers, path, status, code",
    [
        ({}, "/v1/models", 401, "missing_api_key"),
        ({"Authorization": "Bearer wrong"}, "/v1/models", 401, "invalid_api_key"),
        ({"Authorization": "Basic c2stdW5pdA=="}, "/v1/models", 401, "missing_api_key"),
        (KEY, "/v1/models", 200, None),
        ({}, "/v1/models?key=sk-unit", 200, None),
    ],
)
def test_auth(headers, path, status, code):
    response = run(handle(make_request("GET", path, headers=headers), make_platform()))
    assert response.status == status
    if code:
        assert body(response)["error"]["code"] == code
        assert body(response)["error"]["type"] == "authentication_error"


def test_fails_closed_without_keys():
    response = run(handle(make_request("GET", "/v1/models", headers=KEY), make_platform(api_keys=())))
    assert response.status == 401
    assert body(response)["error"]["code"] == "api_keys_not_configured"


def test_head_has_no_body():
    response = run(handle(make_request("HEAD", "/health"), make_platform()))
    assert response.status == 200 and response.body == b""


def test_405_lists_allowed_methods():
    response = run(handle(make_request("PUT", "/v1/chat/completions", headers=KEY), make_platform()))
    assert response.status == 405
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_unexpected_exceptions_become_a_plain_500(capsys):
    def explode(model, inputs):
        raise RuntimeError("secret internals sk-unit")

    request = make_request("POST", "/v1/chat/completions", headers=KEY, body={"messages": [{"role": "user", "content": "x"}]})
    response = run(handle(request, make_platform(ai=FakeAi(explode))))
    assert response.status == 500
    assert "secret internals" not in response.body
    assert body(response)["error"]["code"] == "internal_error"
    assert "RuntimeError" in capsys.readouterr().out


def test_missing_ai_binding_is_a_503():
    request = make_request("POST", "/v1/chat/completions", headers=KEY, body={"messages": [{"role": "user", "content": "x"}]})
    response = run(handle(request, make_platform(ai=None)))
    assert response.status == 503
    assert body(response)["error"]["code"] == "ai_binding_missing"


def test_presented_key_forms():
    assert presented_key(make_request(headers={"authorization": "bearer  abc "})) == "abc"
    assert presented_key(make_request(path="/?key=q")) == "q"
    assert presented_key(make_request()) is None


def test_key_matches_checks_every_key():
    assert key_matches("b", ("a", "b"))
    assert not key_matches("c", ("a", "b"))
    assert not key_matches("", ("a",))
    assert key_matches("ключ", ("ключ",))
