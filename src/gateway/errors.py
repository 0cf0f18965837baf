"""Errors the gateway answers with, in OpenAI's envelope.

Every failure a handler can foresee is raised as an `ApiError`; the app turns it
into `{"error": {"message", "type", "param", "code"}}` with the right status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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


@dataclass(frozen=True)
class _Upstream:
    status: int
    type: str
    code: str
    # Our own words ({model}, {number}); Workers AI's text never reaches the client as it came, since
    # it may name the account (its id, an email, a dashboard URL).
    message: str
    # Append Workers AI's explanation, scrubbed (`_scrubbed`): for input errors it says which field to fix.
    detail: bool = False
    param: str | None = None


_REFUSED = "The model {model} refused the input (Workers AI error {number})"
_UNKNOWN_MODEL = "Workers AI does not know the model '{model}' (Workers AI error {number})."

# Workers AI error codes → how the client sees them.
_UPSTREAM_CODES: dict[int, _Upstream] = {
    3003: _Upstream(400, "invalid_request_error", "invalid_input", _REFUSED, detail=True),
    3006: _Upstream(413, "invalid_request_error", "request_too_large",
                    "The input is too large for {model} (Workers AI error {number})."),
    3007: _Upstream(504, "server_error", "upstream_timeout", "Workers AI timed out running {model} (Workers AI error {number})."),
    3010: _Upstream(400, "invalid_request_error", "invalid_input", _REFUSED, detail=True),
    3016: _Upstream(429, "rate_limit_error", "rate_limit_exceeded",
                    "Workers AI is rate limiting this account for {model} (Workers AI error {number}); retry shortly."),
    3036: _Upstream(429, "insufficient_quota", "daily_allocation_exhausted",
                    "The Workers AI daily free allocation of this account is used up (Workers AI error {number}); "
                    "it resets at 00:00 UTC, or upgrade to Workers Paid."),
    3039: _Upstream(404, "invalid_request_error", "model_not_found", _UNKNOWN_MODEL, param="model"),
    3040: _Upstream(429, "rate_limit_error", "capacity_exceeded",
                    "Workers AI is out of capacity for {model} right now (Workers AI error {number}). "
                    "Retry shortly or pick another model."),
    5004: _Upstream(400, "invalid_request_error", "invalid_input", _REFUSED, detail=True),
    5005: _Upstream(400, "invalid_request_error", "invalid_input", _REFUSED, detail=True),
    5006: _Upstream(400, "invalid_request_error", "invalid_input", _REFUSED, detail=True),
    5007: _Upstream(404, "invalid_request_error", "model_not_found", _UNKNOWN_MODEL, param="model"),
    # The model needs the Workers Paid plan (kimi-k2.6, glm-5.x, deepseek-v4...: `require_workers_paid`).
    5035: _Upstream(403, "permission_error", "requires_workers_paid",
                    "'{model}' needs the Workers Paid plan (Workers AI error {number}); GET /v1/models marks "
                    "such models with requires_paid_plan. Pick another model or upgrade.", param="model"),
}
# A code not in the table: our words and the number, nothing of the text.
_OTHER = _Upstream(502, "server_error", "upstream_error", "Workers AI failed to run {model} (Workers AI error {number}); try again.")
_NO_CODE = _Upstream(502, "server_error", "upstream_error", "Workers AI failed to run {model}; try again.")

_NOISE = re.compile(r"^(?:\s*(?:AiError|InferenceUpstreamError|Error)\s*:\s*)+|\s*\(\s*[0-9a-f-]{36}\s*\)\s*$", re.I)
_CODE_PREFIX = re.compile(r"^\s*\d{4}\s*:\s*")
# What may identify an account or a person: URLs, emails, long hex runs (a 32-hex account id, request
# and gateway ids, UUIDs), IP addresses. Schema paths ('/messages/0/content') and property names stay.
_IDENTIFYING = re.compile(
    r"\b[a-z][a-z0-9+.-]*://\S*"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    r"|(?<![0-9a-z])[0-9a-f]{16,}(?![0-9a-z])"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}\b",
    re.I,
)
_MAX_DETAIL = 300


def _scrubbed(message: str) -> str:
    """Workers AI's explanation without its prefixes and anything `_IDENTIFYING`, and short."""
    text = _NOISE.sub("", message)
    text = _CODE_PREFIX.sub("", text)
    text = _NOISE.sub("", text)
    text = _IDENTIFYING.sub("[redacted]", text)
    text = " ".join(text.split())
    if len(text) > _MAX_DETAIL:
        text = text[:_MAX_DETAIL].rstrip() + "…"
    return text


def seconds_until_utc_midnight(now: float) -> int:
    return 86400 - int(now) % 86400


def from_upstream(error: UpstreamError, model: str, now: float) -> ApiError:
    """The client's view of a Workers AI failure: our message with Workers AI's error number. Only
    input errors add Workers AI's explanation (it tells the client what to fix), scrubbed."""
    if isinstance(error, QueuedError):
        return ApiError(
            502,
            f"Workers AI queued the request for {model} (an asynchronous answer) instead of answering it; "
            "this gateway answers synchronously. Retry, or pick another model.",
            type="server_error", code="upstream_queued",
        )
    known = _UPSTREAM_CODES.get(error.code) if error.code else None
    shape = known or (_OTHER if error.code else _NO_CODE)
    message = shape.message.format(model=model, number=error.code)
    if shape.detail:
        detail = _scrubbed(error.message)
        message += f": {detail}" if detail else "."
    headers: dict[str, str] = {}
    if shape.code == "capacity_exceeded":
        headers["Retry-After"] = "5"
    if shape.code == "daily_allocation_exhausted":
        # The OpenAI and Anthropic SDKs retry a 429 at once, ignoring a Retry-After of hours, unless told not to.
        headers.update({"Retry-After": str(seconds_until_utc_midnight(now)), "X-Should-Retry": "false"})
    return ApiError(shape.status, message, type=shape.type, code=shape.code, param=shape.param, headers=headers,
                    quota=shape.code == "daily_allocation_exhausted")
