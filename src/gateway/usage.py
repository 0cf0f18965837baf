"""Usage accounting, the reading side: who a key is in the usage table, its caps, the report.

- Keys are stored as a SHA-256 hash, never as the key; the first 16 hex digits are the key's id
  that /v1/usage shows and KEY_BUDGETS may name.
- What a request spends is metered by `metering.py` and written by `ledger.py`; /v1/usage reads it
  back here, per key, UTC day and model, with what requests in flight hold.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timedelta, timezone

from . import pricing
from .config import Settings

KEY_ID_LENGTH = 16
MAX_DAYS = 90

COLUMNS = ("requests", "ai_calls", "neurons", "cache_hits", "neurons_saved", "characters")


# Key hashes and dates are remembered per isolate: each was recomputed on every request. A
# request's key is hashed only once it has authenticated, so the cache holds configured keys.
@functools.lru_cache(maxsize=256)
def key_hash(key: str) -> str:
    return hashlib.sha256(("workers-ai-gateway usage\0" + key).encode("utf-8")).hexdigest()


def key_id(hashed: str) -> str:
    return hashed[:KEY_ID_LENGTH]


def utc_day(epoch: float) -> str:
    return _day_text(int(epoch // 86400))


@functools.lru_cache(maxsize=8)
def _day_text(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, timezone.utc).strftime("%Y-%m-%d")


def seconds_to_midnight(epoch: float) -> int:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - moment).total_seconds() + 0.999))


def now(ctx) -> float:
    """The clock: the platform's, or with TEST_CLOCK set (tests only) the `X-Test-Now` header's epoch seconds."""
    if ctx.settings.test_clock:
        value = ctx.request.headers.get("x-test-now")
        if value:
            try:
                return float(value)
            except ValueError:
                pass
    return ctx.platform.clock()


def daily_neuron_budget(settings: Settings, hashed: str, key: str) -> float | None:
    budgets = settings.key_budgets
    if not budgets:
        return None
    for name in (key_id(hashed), hashed, key, "*"):
        if name in budgets:
            return budgets[name]
    return None


# --- reading it back ---------------------------------------------------------------------------


def labels(settings: Settings) -> dict[str, str]:
    """Names for the configured keys (shown to admins only): which key it is and its last 4 characters."""
    def hint(key: str) -> str:
        # The last 4 characters only of a long key: they tell keys apart without giving one away.
        return f" (…{key[-4:]})" if len(key) >= 16 else ""

    named = {}
    for index, key in enumerate(settings.api_keys):
        named.setdefault(key_hash(key), f"API key {index + 1}{hint(key)}")
    for index, key in enumerate(settings.admin_keys):
        named.setdefault(key_hash(key), f"admin key {index + 1}{hint(key)}")
    if settings.translate_password:
        named.setdefault(key_hash(settings.translate_password), "translate secret")
    return named


async def report(database, hashed: str | None, days: int, epoch: float, settings: Settings) -> dict:
    """Per key and day (the last `days` UTC days, today included): requests, neurons, per model, and
    the neurons requests in flight hold (`held_neurons`)."""
    first = utc_day(epoch - (days - 1) * 86400)
    where, params = "WHERE day >= ?", [first]
    if hashed is not None:
        where += " AND key_hash = ?"
        params.append(hashed)
    rows = await database.query(
        "SELECT key_hash, day, model, requests, ai_calls, neurons, cache_hits, neurons_saved, characters "
        f"FROM usage {where} ORDER BY day, key_hash, model", params)
    held = await database.query(
        f"SELECT key_hash, day, SUM(neurons) AS neurons FROM reservations {where} GROUP BY key_hash, day", params)
    names = labels(settings)
    keys: dict[str, dict] = {}
    totals: dict[str, float] = {}

    def day_of(hashed_key: str, date: str) -> dict:
        entry = keys.setdefault(hashed_key, {
            "key_id": key_id(hashed_key),
            "label": names.get(hashed_key) if hashed is None else "this key",
            "budget_neurons_per_day": daily_neuron_budget(settings, hashed_key, ""),
            "days": {},
        })
        return entry["days"].setdefault(date, {c: 0 for c in COLUMNS} | {"held_neurons": 0.0, "models": {}})

    for row in held:
        day_of(row["key_hash"], row["day"])["held_neurons"] = round(float(row["neurons"] or 0), 3)
    for row in rows:
        day = day_of(row["key_hash"], row["day"])
        model = {c: row[c] for c in COLUMNS}
        model["neurons"] = round(float(model["neurons"]), 3)
        model["neurons_saved"] = round(float(model["neurons_saved"]), 3)
        day["models"][row["model"]] = model
        for c in COLUMNS:
            day[c] = round(day[c] + model[c], 3) if isinstance(model[c], float) else day[c] + model[c]
        totals[row["day"]] = round(totals.get(row["day"], 0.0) + model["neurons"], 3)
    dates = [utc_day(epoch - offset * 86400) for offset in range(days - 1, -1, -1)]
    return {
        "object": "usage",
        "scope": "own" if hashed is not None else "all",
        "days": dates,
        "allocation_neurons_per_day": pricing.FREE_NEURONS_PER_DAY,
        "estimated": True,
        "prices": pricing.PRICING_PAGE,
        "keys": list(keys.values()),
        "total_neurons": {date: totals.get(date, 0.0) for date in dates},
    }
