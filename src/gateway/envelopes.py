"""The error envelope each API family speaks; a route names the one its clients parse.

Handlers raise `ApiError` everywhere; only the rendering differs, so a DeepLX
client sees `{"code", "message"}` where an OpenAI client sees `{"error": {...}}`.
"""

from __future__ import annotations

from typing import Callable

from .anthropic_messages import request_id as anthropic_request_id
from .errors import ApiError
from .http import Response, error_response, json_response

ErrorRenderer = Callable[[ApiError], Response]

openai = error_response


# DeepL's status for a used-up quota ("Quota exceeded"): its clients raise their quota error and do
# not retry, where a 429 makes them retry five times and then report "high load".
DEEPL_QUOTA_STATUS = 456


def _deepl_status(error: ApiError) -> int:
    return DEEPL_QUOTA_STATUS if error.quota else error.status


def deeplx(error: ApiError) -> Response:
    # DeepLX answers with the status repeated in the body's `code`.
    status = _deepl_status(error)
    return json_response({"code": status, "message": error.message}, status, error.headers)


def deepl(error: ApiError) -> Response:
    return json_response({"message": error.message}, _deepl_status(error), error.headers)


def cloudflare(error: ApiError) -> Response:
    """The Workers AI REST API's envelope, for clients that call models the way the REST API is called."""
    body = {
        "result": None,
        "success": False,
        "errors": [{"code": error.status, "message": error.message}],
        "messages": [],
    }
    return json_response(body, error.status, error.headers)


# Anthropic's error type for each status (its API reference, "Errors"); Workers AI's capacity errors
# are Anthropic's 529 overloaded_error, which its clients retry.
_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                    429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error"}
ANTHROPIC_OVERLOADED = 529


def anthropic(error: ApiError) -> Response:
    """Anthropic's envelope `{"type": "error", "error": {"type", "message"}, "request_id"}`."""
    status = ANTHROPIC_OVERLOADED if error.code == "capacity_exceeded" else error.status
    kind = _ANTHROPIC_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")
    request_id = anthropic_request_id()
    body = {"type": "error", "error": {"type": kind, "message": error.message}, "request_id": request_id}
    return json_response(body, status, {**error.headers, "request-id": request_id})
