"""The error envelope each API family speaks; a route names the one its clients parse.

Handlers raise `ApiError` everywhere; only the rendering differs, so a DeepLX
client sees `{"code", "message"}` where an OpenAI client sees `{"error": {...}}`.
"""

from __future__ import annotations

from typing import Callable

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
