"""CORS: which origins may call the API from a browser, and the preflight answer."""

from __future__ import annotations

from .config import Settings
from .http import Request, Response

ALLOWED_METHODS = "GET, HEAD, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, DeepL-Auth-Key, OpenAI-Organization, OpenAI-Project, X-Requested-With"
EXPOSED_HEADERS = "X-Model, X-Requested-Model, X-Model-Resolution, X-Usage-Estimated, Retry-After, ETag, X-Dropped-Params, X-Clamped-Params, X-Mapped-Params"


def cors_headers(request: Request, settings: Settings) -> dict[str, str]:
    origin = request.headers.get("origin")
    allowed = settings.cors_allow_origins
    if "*" in allowed:
        allow_origin = "*"
    elif origin and origin in allowed:
        allow_origin = origin
    else:
        return {}
    headers = {"Access-Control-Allow-Origin": allow_origin, "Access-Control-Expose-Headers": EXPOSED_HEADERS}
    if allow_origin != "*":
        headers["Vary"] = "Origin"
    return headers


def preflight(request: Request, settings: Settings) -> Response:
    headers = cors_headers(request, settings)
    if headers:
        headers.update(
            {
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers") or ALLOWED_HEADERS,
                "Access-Control-Max-Age": "86400",
            }
        )
    return Response(204, b"", headers)
