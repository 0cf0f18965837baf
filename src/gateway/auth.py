"""API-key checks: constant-time, and closed when no key is configured.

Each check returns the credential that opened the request: the request is metered under it
(metering.py), whichever way the client presented it.
"""

from __future__ import annotations

import hmac

from .config import Settings
from .errors import unauthorized
from .http import Request


def _authorization(request: Request, schemes: tuple[str, ...]) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() in schemes and value.strip():
            return value.strip()
    return None


def presented_key(request: Request) -> str | None:
    """The key a client sent: `Authorization: Bearer <key>`, or `?key=` for clients that cannot set headers."""
    return _authorization(request, ("bearer",)) or request.query_value("key") or None


def presented_translate_secrets(request: Request) -> list[str]:
    """Every secret a translation client sent. Immersive Translate cannot set headers, so the
    DeepLX address carries it in the query (`?password=`, as the original guide did, or `?token=`)."""
    candidates = [_authorization(request, ("bearer", "deepl-auth-key"))]
    candidates += [request.query_value(name) for name in ("password", "token", "key")]
    return [candidate for candidate in candidates if candidate]


def key_matches(candidate: str, keys: tuple[str, ...]) -> bool:
    # Compare against every key without stopping early, so timing tells nothing
    # about which key (or how much of one) matched.
    candidate_bytes = candidate.encode("utf-8")
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate_bytes, key.encode("utf-8"))
    return matched


def matching(candidates: list[str], keys: tuple[str, ...]) -> str | None:
    """The first candidate that is one of `keys`, each compared in full."""
    matches = [candidate for candidate in candidates if key_matches(candidate, keys)]
    return matches[0] if matches else None


def require_api_key(request: Request, settings: Settings) -> str:
    if not settings.api_keys:
        raise unauthorized(
            "This gateway has no API key configured, so it refuses every request. "
            "Set one or more comma-separated keys with `wrangler secret put API_KEYS`.",
            code="api_keys_not_configured",
        )
    key = presented_key(request)
    if key is None:
        raise unauthorized(
            "Missing API key: send it as `Authorization: Bearer <key>`.",
            code="missing_api_key",
        )
    if not key_matches(key, settings.api_keys):
        raise unauthorized("Incorrect API key provided.")
    return key


def require_translate_secret(request: Request, settings: Settings) -> str:
    """/translate and /v2/translate: the translate secret when one is set, otherwise any API key."""
    secrets = (settings.translate_password,) if settings.translate_password else settings.api_keys
    if not secrets:
        raise unauthorized(
            "This gateway has no translate secret or API key configured, so it refuses every request. "
            "Set one with `wrangler secret put TRANSLATE_PASSWORD` (or API_KEYS).",
            code="api_keys_not_configured",
        )
    presented = presented_translate_secrets(request)
    if not presented:
        raise unauthorized(
            "Missing secret: add `?password=<secret>` to the address, or send `Authorization: Bearer <secret>`.",
            code="missing_api_key",
        )
    # Any one of them may be the secret (a header and a query can both be sent); each is compared in full.
    secret = matching(presented, secrets)
    if secret is None:
        raise unauthorized("Incorrect translate secret provided.")
    return secret
