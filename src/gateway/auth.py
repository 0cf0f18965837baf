"""API-key checks: constant-time, and closed when no key is configured."""

from __future__ import annotations

import hmac

from .config import Settings
from .errors import unauthorized
from .http import Request


def presented_key(request: Request) -> str | None:
    """The key a client sent: `Authorization: Bearer <key>`, or `?key=` for clients that cannot set headers."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.query_value("key") or None


def key_matches(candidate: str, keys: tuple[str, ...]) -> bool:
    # Compare against every key without stopping early, so timing tells nothing
    # about which key (or how much of one) matched.
    candidate_bytes = candidate.encode("utf-8")
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate_bytes, key.encode("utf-8"))
    return matched


def require_api_key(request: Request, settings: Settings) -> None:
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
