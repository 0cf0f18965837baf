"""Usage accounting and budgets: per key and UTC day, what each model cost, in a database (D1).

- A request's spending is collected in a `Meter` while it runs (every Workers AI call and every
  translation served from the cache) and written after the answer has gone out, in ONE
  statement (`INSERT ... ON CONFLICT ... DO UPDATE`), so concurrent requests never lose counts.
- Keys are stored as a SHA-256 hash, never as the key; the first 16 hex digits are the key's id
  that /v1/usage shows and KEY_BUDGETS may name.
- A key with a daily cap (KEY_BUDGETS) is refused with 429 `budget_exhausted` once what it spent
  today reaches the cap, until 00:00 UTC. The check runs before the request's first AI call, on
  today's total as this isolate knows it (the table, re-read every 10 s, plus its own requests),
  so requests in flight or in other isolates when the cap is reached still finish (an overshoot).
- Without a database everything here is a no-op: accounting is off, budgets cannot be enforced.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from . import pricing
from .auth import key_matches, presented_key, presented_translate_secrets
from .catalog import BY_ID, DEFAULT_MODEL, TRANSLATION
from .config import Settings
from .errors import ApiError
from .platform import Context, DatabaseError

KEY_ID_LENGTH = 16
MAX_DAYS = 90

COLUMNS = ("requests", "ai_calls", "neurons", "cache_hits", "neurons_saved", "characters")

RECORD_SQL_HEAD = (
    "INSERT INTO usage (key_hash, day, model, requests, ai_calls, neurons, cache_hits, neurons_saved, characters) VALUES "
)
RECORD_SQL_TAIL = (
    " ON CONFLICT (key_hash, day, model) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in COLUMNS)
)


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


def now(ctx: Context) -> float:
    """The clock: the platform's, or with TEST_CLOCK set (tests only) the `X-Test-Now` header's epoch seconds."""
    if ctx.settings.test_clock:
        value = ctx.request.headers.get("x-test-now")
        if value:
            try:
                return float(value)
            except ValueError:
                pass
    return ctx.platform.clock()


@dataclass
class ModelUse:
    requests: int = 1
    ai_calls: int = 0
    neurons: float = 0.0
    cache_hits: int = 0
    neurons_saved: float = 0.0
    characters: int = 0


@dataclass
class Meter:
    key: str
    hashed: str
    day: str
    started: float
    models: dict[str, ModelUse] = field(default_factory=dict)
    budget_check: asyncio.Future | None = None

    def use(self, model: str) -> ModelUse:
        return self.models.setdefault(model, ModelUse())


def caller_key(ctx: Context, translate_route: bool) -> str | None:
    """The credential that authenticated this request: the matching translate secret on the
    translation routes, the API key elsewhere."""
    settings = ctx.settings
    if translate_route:
        secrets = (settings.translate_password,) if settings.translate_password else settings.api_keys
        for candidate in presented_translate_secrets(ctx.request):
            if key_matches(candidate, secrets):
                return candidate
        return None
    return presented_key(ctx.request)


def start(ctx: Context, translate_route: bool = False) -> None:
    """Opens the request's meter once it is authenticated."""
    key = caller_key(ctx, translate_route)
    if key is None:
        return
    started = now(ctx)
    ctx.meter = Meter(key, key_hash(key), utc_day(started), started)
    if ctx.platform.database is not None:
        # DeepL's /v2/usage counts from the usage table instead of one isolate's memory.
        ctx.platform.characters = TableCharacters(ctx)


def charge(ctx: Context, model: str, inputs: dict, result) -> None:
    """One Workers AI call that succeeded."""
    if ctx.meter is None:
        return
    use = ctx.meter.use(model)
    use.ai_calls += 1
    try:
        use.neurons += pricing.estimate(model, inputs, result)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError):
        # An answer of a shape no model sends is the endpoint's to refuse (502); the call still
        # counts, priced from its inputs alone.
        use.neurons += pricing.estimate(model, inputs, {})


def cache_hit(ctx: Context, model: str, saved_neurons: float) -> None:
    if ctx.meter is None:
        return
    use = ctx.meter.use(model)
    use.cache_hits += 1
    use.neurons_saved += saved_neurons


def count_characters(ctx: Context, model: str, characters: int) -> None:
    if ctx.meter is not None:
        ctx.meter.use(model).characters += characters


def record_statement(meter: Meter) -> tuple[str, list]:
    rows, params = [], []
    for model, use in meter.models.items():
        rows.append("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
        params += [meter.hashed, meter.day, model, use.requests, use.ai_calls, round(use.neurons, 6),
                   use.cache_hits, round(use.neurons_saved, 6), use.characters]
    return RECORD_SQL_HEAD + ", ".join(rows) + RECORD_SQL_TAIL, params


# Characters per key and day as this isolate knows them: the table's figure when last read, and
# what this isolate's own requests added since. A read right after a translation (/v2/usage) may
# come before the deferred write has landed; it then answers the larger of the table and this
# view, so a client sees its own requests without a request ever waiting on another one (workerd
# refuses that: "The script will never generate a response").
_characters: dict[tuple[str, str], list[int]] = {}


async def _record(database, meter: Meter) -> None:
    sql, params = record_statement(meter)
    try:
        await database.execute(sql, params)
    except DatabaseError as error:
        print(f"usage accounting failed: {error}")


async def finish(ctx: Context) -> None:
    """Writes the request's usage: after the answer (`defer`) where the runtime offers it."""
    meter, database = ctx.meter, ctx.platform.database
    if meter is None or not meter.models or database is None:
        return
    if meter.budget_check is not None:
        _spent_locally(meter)
    characters = sum(use.characters for use in meter.models.values())
    if characters:
        if len(_characters) > 1000:
            _characters.clear()
        _characters.setdefault((meter.hashed, meter.day), [0, 0])[1] += characters
    write = _record(database, meter)
    if ctx.platform.defer is not None:
        ctx.platform.defer(write)
    else:
        await write


# --- budgets -----------------------------------------------------------------------------------


def budget_for(settings: Settings, hashed: str, key: str) -> float | None:
    budgets = settings.key_budgets
    if not budgets:
        return None
    for name in (key_id(hashed), hashed, key, "*"):
        if name in budgets:
            return budgets[name]
    return None


async def spent_today(database, hashed: str, day: str) -> float:
    rows = await database.query("SELECT COALESCE(SUM(neurons), 0) AS neurons FROM usage WHERE key_hash = ? AND day = ?",
                                [hashed, day])
    return float(rows[0]["neurons"]) if rows else 0.0


def budget_exhausted(cap: float, spent: float, epoch: float) -> ApiError:
    return ApiError(
        429,
        f"This key has used its daily budget of {cap:g} neurons (spent {spent:.1f} today); "
        "it resets at 00:00 UTC.",
        type="insufficient_quota",
        code="budget_exhausted",
        headers={"Retry-After": str(seconds_to_midnight(epoch))},
    )


# What each budgeted key spent today as this isolate knows it: read from the table at most every
# BUDGET_REFRESH_SECONDS, plus what this isolate's own requests added since. Saves the D1 read on
# most requests (locally it cost ~11 ms a request); other isolates' spending shows up within the
# refresh interval.
BUDGET_REFRESH_SECONDS = 10.0
_spent: dict[tuple[str, str], list[float]] = {}


async def _spent_now(database, meter: Meter) -> float:
    entry = _spent.get((meter.hashed, meter.day))
    if entry is not None and time.monotonic() - entry[1] < BUDGET_REFRESH_SECONDS:
        return entry[0]
    value = await spent_today(database, meter.hashed, meter.day)
    if len(_spent) > 1000:
        _spent.clear()
    _spent[(meter.hashed, meter.day)] = [value, time.monotonic()]
    return value


def _spent_locally(meter: Meter) -> None:
    entry = _spent.get((meter.hashed, meter.day))
    if entry is not None:
        entry[0] += sum(use.neurons for use in meter.models.values())


async def check_budget(ctx: Context) -> None:
    """Before a request's AI calls: refuses when its key's cap is reached. Checked once per request."""
    meter, database = ctx.meter, ctx.platform.database
    if meter is None or database is None:
        return
    cap = budget_for(ctx.settings, meter.hashed, meter.key)
    if cap is None:
        return
    if meter.budget_check is None:
        meter.budget_check = asyncio.ensure_future(_spent_now(database, meter))
    try:
        spent = await asyncio.shield(meter.budget_check)
    except DatabaseError as error:
        print(f"budget check failed, request allowed: {error}")
        return
    if spent >= cap:
        raise budget_exhausted(cap, spent, meter.started)


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
    """Per key and day (the last `days` UTC days, today included): requests, neurons, per model."""
    first = utc_day(epoch - (days - 1) * 86400)
    sql = ("SELECT key_hash, day, model, requests, ai_calls, neurons, cache_hits, neurons_saved, characters "
           "FROM usage WHERE day >= ?")
    params: list = [first]
    if hashed is not None:
        sql += " AND key_hash = ?"
        params.append(hashed)
    rows = await database.query(sql + " ORDER BY day, key_hash, model", params)
    names = labels(settings)
    keys: dict[str, dict] = {}
    totals: dict[str, float] = {}
    for row in rows:
        entry = keys.setdefault(row["key_hash"], {
            "key_id": key_id(row["key_hash"]),
            "label": names.get(row["key_hash"]) if hashed is None else "this key",
            "budget_neurons_per_day": budget_for(settings, row["key_hash"], ""),
            "days": {},
        })
        day = entry["days"].setdefault(row["day"], {c: 0 for c in COLUMNS} | {"models": {}})
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


class TableCharacters:
    """DeepL's character count (`deepl.CharacterCounter`) kept in the usage table: /translate and
    /v2/translate add a request's billed characters to its meter (written with the request's one
    statement), and /v2/usage reads the secret's day from the table, so every isolate and data
    centre sees the same count. Bound to one request: it counts for the key that request used."""

    def __init__(self, ctx: Context):
        self._ctx = ctx

    async def add(self, secret: str, day: str, characters: int) -> None:
        meter = self._ctx.meter
        if meter is None:
            return
        translation = [model for model in meter.models if BY_ID.get(model) and BY_ID[model].task == TRANSLATION]
        count_characters(self._ctx, translation[0] if translation else DEFAULT_MODEL[TRANSLATION], characters)

    async def used(self, secret: str, day: str) -> int:
        meter, database = self._ctx.meter, self._ctx.platform.database
        if meter is None or database is None:
            return 0
        try:
            rows = await database.query(
                "SELECT COALESCE(SUM(characters), 0) AS characters FROM usage WHERE key_hash = ? AND day = ?",
                [meter.hashed, day])
        except DatabaseError as error:
            print(f"usage query failed: {error}")
            return 0
        table = int(rows[0]["characters"]) if rows else 0
        known = _characters.setdefault((meter.hashed, day), [0, 0])
        count = max(table, known[0] + known[1])
        known[0], known[1] = count, 0
        return count
