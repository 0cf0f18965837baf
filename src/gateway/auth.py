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
    """The key a client sent: `Authorization: Bearer <key>`, `x-api-key: <key>` (Anthropic's clients),
    or `?key=` for clients that cannot set headers. One of them, in that order: a request is one guess."""
    return (_authorization(request, ("bearer",)) or (request.headers.get("x-api-key") or "").strip()
            or request.query_value("key") or None)


def presented_translate_secrets(request: Request) -> list[str]:
    """The secrets a translation client sent, each once, in order: the `Authorization` header
    (Bearer or DeepL-Auth-Key), then `?password=`, `?token=`, `?key=` (Immersive Translate cannot
    set headers, so the DeepLX address carries it in the query, as the original guide did)."""
    candidates = [_authorization(request, ("bearer", "deepl-auth-key"))]
    candidates += [request.query_value(name) for name in ("password", "token", "key")]
    return list(dict.fromkeys(candidate for candidate in candidates if candidate))


def key_matches(candidate: str, keys: tuple[str, ...]) -> bool:
    # Compare against every key without stopping early, so timing tells nothing
    # about which key (or how much of one) matched.
    candidate_bytes = candidate.encode("utf-8")
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate_bytes, key.encode("utf-8"))
    return matched


def matching(candidates: list[str], keys: tuple[str, ...]) -> str | None:
    """The credential, when `candidates` hold one (however many ways it was sent) and it is one of
    `keys`; None otherwise. Different credentials are never tried in turn: a request that could
    carry several guesses would multiply what a brute force learns from each."""
    if len(set(candidates)) != 1:
        return None
    return candidates[0] if key_matches(candidates[0], keys) else None


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
    """/translate: the translate secret when one is set, otherwise any API key. One credential per
    request: the same one may come several ways (a header and `?password=`), different ones are a
    401 without any of them being compared, so a request is one guess."""
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
    if len(presented) > 1:
        # One guess per request: a header and three query parameters must not test four secrets.
        raise unauthorized(
            "Different secrets were sent (in the Authorization header, ?password=, ?token= or ?key=): send the "
            "secret one way only.",
            code="conflicting_credentials",
        )
    secret = matching(presented, secrets)
    if secret is None:
        raise unauthorized("Incorrect translate secret provided.")
    return secret
