"""Errors the gateway answers with, in OpenAI's envelope.

Every failure a handler can foresee is raised as an `ApiError`; the app turns it
into `{"error": {"message", "type", "param", "code"}}` with the right status.
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def not_found(message: str, *, code: str = "not_found", param: str | None = None) -> ApiError:
    return ApiError(404, message, code=code, param=param)


def method_not_allowed(method: str, allowed: list[str]) -> ApiError:
    return ApiError(
        405,
        f"Method {method} is not allowed here; use {', '.join(allowed)}.",
        code="method_not_allowed",
        headers={"Allow": ", ".join(allowed)},
    )


def unauthorized(message: str, *, code: str = "invalid_api_key") -> ApiError:
    return ApiError(401, message, type="authentication_error", code=code)


def internal_error() -> ApiError:
    # Deliberately vague: the details go to the log, never to the client.
    return ApiError(500, "The gateway failed to handle this request.", type="server_error", code="internal_error")
