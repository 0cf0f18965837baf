"""API keys and the translate secret (auth.py): where a credential is read from, how it is compared,
what a missing or wrong one is told, and that one request is one guess."""

from __future__ import annotations

import pytest

from gateway import auth
from gateway.config import Settings
from gateway.errors import ApiError

from fakes import make_request

KEYS = ("sk-first-key", "sk-second-key")


def refused(check, request, settings) -> ApiError:
    with pytest.raises(ApiError) as caught:
        check(request, settings)
    return caught.value


# --- where a key is read from ---------------------------------------------------------------------

@pytest.mark.parametrize("headers, path, key", [
    ({"authorization": "Bearer sk-a"}, "/", "sk-a"),
    ({"authorization": "bearer   sk-a  "}, "/", "sk-a"),
    ({"authorization": "BEARER sk-a"}, "/", "sk-a"),
    ({}, "/?key=sk-q", "sk-q"),
    # The header wins over the query: one key per request.
    ({"authorization": "Bearer sk-a"}, "/?key=sk-q", "sk-a"),
    ({"authorization": "Basic c2stYQ=="}, "/", None),
    ({"authorization": "DeepL-Auth-Key sk-a"}, "/", None),
    ({"authorization": "Bearer "}, "/", None),
    ({"authorization": "Bearer"}, "/?key=sk-q", "sk-q"),
    ({}, "/?key=", None),
    ({}, "/", None),
])
def test_presented_key(headers, path, key):
    assert auth.presented_key(make_request(path=path, headers=headers)) == key


@pytest.mark.parametrize("headers, path, secrets", [
    ({"authorization": "Bearer s1"}, "/translate", ["s1"]),
    ({"authorization": "DeepL-Auth-Key s1"}, "/translate", ["s1"]),
    ({"authorization": "deepl-auth-key s1"}, "/translate", ["s1"]),
    ({}, "/translate?password=s2", ["s2"]),
    ({}, "/translate?token=s3", ["s3"]),
    ({}, "/translate?key=s4", ["s4"]),
    ({"authorization": "Bearer s1"}, "/translate?password=s2&token=s3&key=s4", ["s1", "s2", "s3", "s4"]),
    ({}, "/translate?key=s4&token=s3&password=s2", ["s2", "s3", "s4"]),
    # The same secret sent several ways is one credential.
    ({"authorization": "Bearer s1"}, "/translate?password=s1&token=s1", ["s1"]),
    ({"authorization": "Basic s1"}, "/translate?password=&token=", []),
    ({}, "/translate", []),
])
def test_presented_translate_secrets(headers, path, secrets):
    assert auth.presented_translate_secrets(make_request("POST", path, headers=headers)) == secrets


# --- comparing --------------------------------------------------------------------------------------

def test_key_matches_compares_every_key():
    assert auth.key_matches("sk-first-key", KEYS) is True
    assert auth.key_matches("sk-second-key", KEYS) is True
    assert auth.key_matches("sk-third-key", KEYS) is False
    assert auth.key_matches("sk-first-ke", KEYS) is False
    assert auth.key_matches("sk-first-keyy", KEYS) is False
    assert auth.key_matches("", KEYS) is False
    assert auth.key_matches("sk-first-key", ()) is False
    assert auth.key_matches("ключ", ("ключ",)) is True


@pytest.mark.parametrize("candidates, found", [
    (["sk-second-key"], "sk-second-key"),
    (["sk-second-key", "sk-second-key"], "sk-second-key"),
    (["nope"], None),
    ([], None),
    # Two different credentials are not tried in turn, even when one of them is right.
    (["nope", "sk-first-key"], None),
    (["sk-first-key", "nope"], None),
    (["sk-first-key", "sk-second-key"], None),
])
def test_matching_is_one_credential(candidates, found):
    assert auth.matching(candidates, KEYS) == found


# --- the API key ---------------------------------------------------------------------------------------

def test_require_api_key():
    settings = Settings(api_keys=KEYS)
    request = make_request(headers={"authorization": "Bearer sk-second-key"})
    assert auth.require_api_key(request, settings) == "sk-second-key"
    assert auth.require_api_key(make_request(path="/?key=sk-first-key"), settings) == "sk-first-key"


def test_require_api_key_refusals():
    settings = Settings(api_keys=KEYS)
    missing = refused(auth.require_api_key, make_request(), settings)
    assert (missing.status, missing.type, missing.code, missing.message) == (
        401, "authentication_error", "missing_api_key", "Missing API key: send it as `Authorization: Bearer <key>`.")
    wrong = refused(auth.require_api_key, make_request(headers={"authorization": "Bearer sk-first-ke"}), settings)
    assert (wrong.status, wrong.code, wrong.message) == (401, "invalid_api_key", "Incorrect API key provided.")
    closed = refused(auth.require_api_key, make_request(headers={"authorization": "Bearer sk-first-key"}), Settings())
    assert (closed.status, closed.code) == (401, "api_keys_not_configured")
    assert "wrangler secret put API_KEYS" in closed.message


# --- the translate secret -------------------------------------------------------------------------

def translate_request(path="/translate", headers=None):
    return make_request("POST", path, headers=headers or {})


@pytest.mark.parametrize("path, headers", [
    ("/translate?password=pw-secret", {}),
    ("/translate?token=pw-secret", {}),
    ("/translate?key=pw-secret", {}),
    ("/translate", {"authorization": "Bearer pw-secret"}),
    ("/translate", {"authorization": "DeepL-Auth-Key pw-secret"}),
    ("/translate?password=pw-secret&token=pw-secret", {"authorization": "Bearer pw-secret"}),
])
def test_the_translate_secret_opens_translate(path, headers):
    settings = Settings(api_keys=KEYS, translate_password="pw-secret")
    assert auth.require_translate_secret(translate_request(path, headers), settings) == "pw-secret"


def test_without_a_translate_secret_the_api_keys_open_translate():
    settings = Settings(api_keys=KEYS)
    assert auth.require_translate_secret(translate_request("/translate?password=sk-second-key"), settings) == "sk-second-key"
    secured = Settings(api_keys=KEYS, translate_password="pw-secret")
    wrong = refused(auth.require_translate_secret, translate_request("/translate?password=sk-second-key"), secured)
    assert (wrong.status, wrong.code, wrong.message) == (401, "invalid_api_key", "Incorrect translate secret provided.")


@pytest.mark.parametrize("path, headers", [
    ("/translate?password=guess-1&token=pw-secret", {}),
    ("/translate?password=pw-secret&key=guess-2", {}),
    ("/translate?token=guess-1", {"authorization": "Bearer pw-secret"}),
    ("/translate?password=pw-secret", {"authorization": "Bearer guess-1"}),
])
def test_several_different_secrets_are_a_401_even_with_the_right_one(path, headers):
    settings = Settings(api_keys=KEYS, translate_password="pw-secret")
    error = refused(auth.require_translate_secret, translate_request(path, headers), settings)
    assert (error.status, error.type, error.code) == (401, "authentication_error", "conflicting_credentials")
    assert error.message == ("Different secrets were sent (in the Authorization header, ?password=, ?token= or ?key=): "
                             "send the secret one way only.")


def test_translate_secret_refusals():
    missing = refused(auth.require_translate_secret, translate_request(), Settings(translate_password="pw-secret"))
    assert (missing.status, missing.code) == (401, "missing_api_key")
    assert missing.message == ("Missing secret: add `?password=<secret>` to the address, or send "
                               "`Authorization: Bearer <secret>`.")
    closed = refused(auth.require_translate_secret, translate_request("/translate?password=x"), Settings())
    assert (closed.status, closed.code) == (401, "api_keys_not_configured")
    assert "TRANSLATE_PASSWORD" in closed.message
    # A translate secret alone (no API keys) is enough to open /translate.
    assert auth.require_translate_secret(translate_request("/translate?token=pw"), Settings(translate_password="pw")) == "pw"
