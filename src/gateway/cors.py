"""CORS: which origins may call the API from a browser, and the preflight answer."""

from __future__ import annotations

from .config import Settings
from .http import Request, Response

ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"  # DeepL glossaries use PUT, PATCH and DELETE
ALLOWED_HEADERS = "Authorization, Content-Type, DeepL-Auth-Key, OpenAI-Organization, OpenAI-Project, X-Requested-With"
EXPOSED_HEADERS = "X-Model, X-Requested-Model, X-Model-Resolution, X-Usage-Estimated, Retry-After, ETag, X-Dropped-Params, X-Clamped-Params, X-Mapped-Params, X-Catalog-Source, X-Moderation-Scores"


def cors_headers(request: Request, settings: Settings) -> dict[str, str]:
    """The CORS headers of an answer. With a list of origins, each is matched exactly (scheme, host
    and port), and the answer says it varies by Origin whether or not this one was let in: a cache
    (a stored image under /file/) must not hand one origin's answer to another."""
    allowed = settings.cors_allow_origins
    if "*" in allowed:
        return {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": EXPOSED_HEADERS}
    origin = request.headers.get("origin")
    if not origin or origin not in allowed:
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSED_HEADERS, "Vary": "Origin"}


def preflight(request: Request, settings: Settings) -> Response:
    headers = cors_headers(request, settings)
    if "Access-Control-Allow-Origin" in headers:
        headers.update(
            {
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers") or ALLOWED_HEADERS,
                "Access-Control-Max-Age": "86400",
            }
        )
    return Response(204, b"", headers)
