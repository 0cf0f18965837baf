"""Errors the gateway answers with, in OpenAI's envelope.

Every failure a handler can foresee is raised as an `ApiError`; the app turns it
into `{"error": {"message", "type", "param", "code"}}` with the right status.
"""

from __future__ import annotations

import re


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
        quota: bool = False,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})
        # A quota is used up (a key's budget, the account's daily allocation, a character limit):
        # retrying soon cannot help. DeepL's clients know that as 456 (envelopes.deepl).
        self.quota = quota

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


class UpstreamError(Exception):
    """Workers AI failed: `code` is its numeric error code when the message carried one."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code


class QueuedError(UpstreamError):
    """Workers AI answered with its async `{request_id}` (queued) instead of a result."""


# Workers AI error codes → (HTTP status, OpenAI error type, our code).
_UPSTREAM_CODES: dict[int, tuple[int, str, str]] = {
    3003: (400, "invalid_request_error", "invalid_input"),
    3006: (413, "invalid_request_error", "request_too_large"),
    3007: (504, "server_error", "upstream_timeout"),
    3010: (400, "invalid_request_error", "invalid_input"),
    3016: (429, "rate_limit_error", "rate_limit_exceeded"),
    3036: (429, "insufficient_quota", "daily_allocation_exhausted"),
    3039: (404, "invalid_request_error", "model_not_found"),
    3040: (429, "rate_limit_error", "capacity_exceeded"),
    5004: (400, "invalid_request_error", "invalid_input"),
    5005: (400, "invalid_request_error", "invalid_input"),
    5006: (400, "invalid_request_error", "invalid_input"),
    5007: (404, "invalid_request_error", "model_not_found"),
    # The model needs the Workers Paid plan (kimi-k2.6, glm-5.x, deepseek-v4...: `require_workers_paid`).
    5035: (403, "permission_error", "requires_workers_paid"),
}

_NOISE = re.compile(r"^(?:\s*(?:AiError|InferenceUpstreamError|Error)\s*:\s*)+|\s*\(\s*[0-9a-f-]{36}\s*\)\s*$", re.I)
_CODE_PREFIX = re.compile(r"^\s*\d{4}\s*:\s*")


def _upstream_text(message: str) -> str:
    text = _NOISE.sub("", message)
    text = _CODE_PREFIX.sub("", text)
    return _NOISE.sub("", text).strip() or "no detail"


def seconds_until_utc_midnight(now: float) -> int:
    return 86400 - int(now) % 86400


def from_upstream(error: UpstreamError, model: str, now: float) -> ApiError:
    """The client's view of a Workers AI failure.

    4xx answers carry Workers AI's own explanation (it tells the client what to
    fix); 5xx answers stay generic so no upstream detail leaks.
    """
    if isinstance(error, QueuedError):
        return ApiError(
            502,
            f"Workers AI queued the request for {model} (an asynchronous answer) instead of answering it; "
            "this gateway answers synchronously. Retry, or pick another model.",
            type="server_error", code="upstream_queued",
        )
    status, type_, code = _UPSTREAM_CODES.get(error.code or 0, (502, "server_error", "upstream_error"))
    if code == "capacity_exceeded":
        return ApiError(
            status,
            f"Workers AI is out of capacity for {model} right now (error 3040). Retry shortly or pick another model.",
            type=type_, code=code, headers={"Retry-After": "5"},
        )
    if code == "daily_allocation_exhausted":
        return ApiError(
            status,
            "The Workers AI daily free allocation of this account is used up (error 3036); "
            "it resets at 00:00 UTC, or upgrade to Workers Paid.",
            type=type_, code=code, quota=True,
            # The OpenAI and Anthropic SDKs retry a 429 at once, ignoring a Retry-After of hours, unless told not to.
            headers={"Retry-After": str(seconds_until_utc_midnight(now)), "X-Should-Retry": "false"},
        )
    if code == "requires_workers_paid":
        return ApiError(status, f"'{model}' needs the Workers Paid plan (Workers AI error 5035); GET /v1/models marks "
                        "such models with requires_paid_plan. Pick another model or upgrade.", type=type_, code=code, param="model")
    if code == "model_not_found":
        return ApiError(status, f"Workers AI does not know the model '{model}'.", type=type_, code=code, param="model")
    if status < 500:
        return ApiError(status, f"Workers AI refused the input for {model}: {_upstream_text(error.message)}", type=type_, code=code)
    if code == "upstream_timeout":
        return ApiError(status, f"Workers AI timed out running {model}.", type=type_, code=code)
    return ApiError(status, f"Workers AI failed to run {model}; try again.", type=type_, code=code)
