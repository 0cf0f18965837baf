"""GET /v1/usage?days=N: neurons and requests per key and UTC day, from the usage database.

Any key sees its own usage; keys listed in ADMIN_KEYS see every key's. The translate secret
may look at its own too (DeepL clients hold only that).
"""

from __future__ import annotations

from .. import usage
from ..auth import key_matches, presented_key, presented_translate_secrets
from ..config import Settings
from ..errors import ApiError, bad_request, unauthorized
from ..http import Request, json_response
from ..platform import Context, DatabaseError

DEFAULT_DAYS = 14


def _accepted(settings: Settings) -> tuple[str, ...]:
    return settings.api_keys + settings.admin_keys + ((settings.translate_password,) if settings.translate_password else ())


def _caller(request: Request, settings: Settings) -> str | None:
    keys = _accepted(settings)
    for candidate in [presented_key(request), *presented_translate_secrets(request)]:
        if candidate and key_matches(candidate, keys):
            return candidate
    return None


def require_usage_key(request: Request, settings: Settings) -> str:
    if not _accepted(settings):
        raise unauthorized("This gateway has no API key configured, so it refuses every request.",
                           code="api_keys_not_configured")
    if presented_key(request) is None and not presented_translate_secrets(request):
        raise unauthorized("Missing API key: send it as `Authorization: Bearer <key>`.", code="missing_api_key")
    caller = _caller(request, settings)
    if caller is None:
        raise unauthorized("Incorrect API key provided.")
    return caller


def _days(values: list[str] | None) -> int:
    if not values:
        return DEFAULT_DAYS
    value = values[0]
    if len(values) > 1 or not value.isascii() or not value.isdigit() or not 1 <= int(value) <= usage.MAX_DAYS:
        raise bad_request(f"`days` must be a whole number from 1 to {usage.MAX_DAYS}.", param="days")
    return int(value)


async def get_usage(ctx: Context):
    days = _days(ctx.request.query.get("days"))
    database = ctx.platform.database
    if database is None:
        raise ApiError(503, "Usage accounting is off: this worker has no `USAGE_DB` D1 binding (see docs/limits-and-security.md).",
                       type="server_error", code="accounting_off")
    settings = ctx.settings
    caller = _caller(ctx.request, settings)
    admin = bool(settings.admin_keys) and key_matches(caller, settings.admin_keys)
    try:
        body = await usage.report(database, None if admin else usage.key_hash(caller), days, usage.now(ctx), settings)
    except DatabaseError as error:
        print(f"usage query failed: {error}")
        raise ApiError(502, "The usage database failed; try again.", type="server_error", code="database_failed") from None
    if not admin:
        body["key_id"] = usage.key_id(usage.key_hash(caller))
    return json_response(body, headers={"Cache-Control": "no-store"})
