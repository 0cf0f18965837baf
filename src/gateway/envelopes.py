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


def deeplx(error: ApiError) -> Response:
    # DeepLX answers with the status repeated in the body's `code`.
    return json_response({"code": error.status, "message": error.message}, error.status, error.headers)


def deepl(error: ApiError) -> Response:
    return json_response({"message": error.message}, error.status, error.headers)


def cloudflare(error: ApiError) -> Response:
    """The Workers AI REST API's envelope, for clients that call models the way the REST API is called."""
    body = {
        "result": None,
        "success": False,
        "errors": [{"code": error.status, "message": error.message}],
        "messages": [],
    }
    return json_response(body, error.status, error.headers)
