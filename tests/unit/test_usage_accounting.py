"""Pricing data, usage accounting, budgets and the translation cache, with plain-Python fakes
(an in-memory SQLite database stands in for D1, a dict for the Cache API)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from fakes import FakeAi, make_platform, make_request, run
from gateway import pricing, translation_cache, usage
from gateway.app import handle
from gateway.catalog import MODELS
from gateway.config import parse_budgets
from gateway.platform import Context, DatabaseError

MIGRATION = (Path(__file__).resolve().parents[2] / "migrations" / "0001_usage.sql").read_text()
M2M = "@cf/meta/m2m100-1.2b"
CHAT = "@cf/meta/llama-3.1-8b-instruct-fast"


@pytest.fixture(autouse=True)
def fresh_budget_memory():
    usage._spent.clear()
    usage._characters.clear()
    yield
    usage._spent.clear()
    usage._characters.clear()


class SqliteDatabase:
    """D1's interface on SQLite (D1 is SQLite): the migration runs as written."""

    def __init__(self):
        self.db = sqlite3.connect(":memory:")
        self.db.row_factory = sqlite3.Row
        self.db.executescript(MIGRATION)
        self.statements: list[str] = []
        self.queries: list[str] = []

    async def execute(self, sql, params):
        self.statements.append(sql)
        try:
            self.db.execute(sql, params)
        except sqlite3.Error as error:
            raise DatabaseError(str(error)) from None

    async def query(self, sql, params):
        self.queries.append(sql)
        return [dict(row) for row in self.db.execute(sql, params)]


class DictCache:
    def __init__(self):
        self.entries: dict[str, tuple[str, int]] = {}

    async def get(self, key):
        return self.entries.get(key, (None, 0))[0]

    async def put(self, key, value, ttl_seconds):
        self.entries[key] = (value, ttl_seconds)


def translator(model, inputs):
    if "text" in inputs and "target_lang" in inputs:
        return {"translated_text": f"[{inputs['target_lang']}] {inputs['text']}"}
    return {"response": "ok", "usage": {"prompt_tokens": 1000, "completion_tokens": 2000}}


def platform_with(**settings):
    platform = make_platform(FakeAi(translator), **settings)
    platform.database = SqliteDatabase()
    platform.cache = DictCache()
    return platform


def post(platform, path, body, key="sk-unit", now=None):
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    if now is not None:
        headers["x-test-now"] = str(now)
    return run(handle(make_request("POST", path, headers=headers, body=body), platform))


# --- pricing ---------------------------------------------------------------------------------


def test_every_catalog_model_has_a_price_and_says_where_it_comes_from():
    for model in MODELS:
        price = pricing.price_for(model.id)
        assert price.source
        assert any((price.input, price.output, price.tile, price.step, price.audio_minute, price.characters)), model.id


def test_neurons_follow_the_published_rate():
    # m2m100: $0.342 per M tokens ↔ 31050 neurons per M tokens on the pricing page.
    assert pricing.neurons(0.342) == pytest.approx(31090.9, rel=1e-3)
    assert pricing.estimate(CHAT, {}, {"usage": {"prompt_tokens": 1_000_000, "completion_tokens": 0}}) == pytest.approx(4090.9, rel=1e-3)
    # A stream's output is not known when the call returns: the cap is counted.
    streamed = pricing.estimate(CHAT, {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 1000}, object())
    assert streamed == pytest.approx(pricing.neurons(100 * 0.045 / 1e6 + 1000 * 0.384 / 1e6))
    flux = pricing.estimate("@cf/black-forest-labs/flux-1-schnell", {"steps": 4}, {})
    assert flux == pytest.approx(4 * 9.6 + 4 * 4.8, rel=1e-2)  # the page: 9.60 neurons a step, 4.80 a tile
    assert pricing.estimate("@cf/openai/whisper", {}, {"transcription_info": {"duration": 120}}) == pytest.approx(2 * 45.45, rel=1e-2)


def test_key_budgets_parse_pairs_and_json():
    assert parse_budgets("abc=100, *=5000,bad=x,neg=-1") == {"abc": 100.0, "*": 5000.0}
    assert parse_budgets('{"abc": 7}') == {"abc": 7.0}
    assert parse_budgets("") == {}


def test_seconds_to_midnight_and_days_are_utc():
    assert usage.seconds_to_midnight(86400 * 3 - 600) == 600
    assert usage.seconds_to_midnight(86400 * 3) == 86400
    assert usage.utc_day(86400 * 3 - 1) == "1970-01-03"


# --- accounting ------------------------------------------------------------------------------


def test_one_statement_per_request_and_counts_add_up():
    platform = platform_with()
    for _ in range(3):
        assert post(platform, "/v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}).status == 200
    assert len(platform.database.statements) == 3
    assert all("ON CONFLICT" in sql for sql in platform.database.statements)
    (row,) = run(platform.database.query("SELECT * FROM usage", []))
    assert row["key_hash"] == usage.key_hash("sk-unit") and "sk-unit" not in str(row)
    assert (row["requests"], row["ai_calls"], row["model"]) == (3, 3, CHAT)
    assert row["neurons"] == pytest.approx(3 * pricing.neurons(1000 * 0.045 / 1e6 + 2000 * 0.384 / 1e6))


def test_the_write_is_deferred_when_the_runtime_offers_it():
    platform = platform_with()
    deferred = []
    platform.defer = deferred.append
    post(platform, "/v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]})
    assert platform.database.statements == [] and len(deferred) == 1
    run(deferred[0])
    assert len(platform.database.statements) == 1


def test_a_failing_database_never_fails_the_request():
    platform = platform_with()

    async def broken(sql, params):
        raise DatabaseError("D1 is down")

    platform.database.execute = broken
    platform.database.query = broken
    response = post(platform, "/v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status == 200


def test_requests_that_reach_no_model_are_not_recorded():
    platform = platform_with()
    run(handle(make_request("GET", "/v1/models", headers={"authorization": "Bearer sk-unit"}), platform))
    assert post(platform, "/v1/chat/completions", {"model": CHAT, "messages": "nope"}).status == 400
    assert platform.database.statements == []


# --- budgets ---------------------------------------------------------------------------------


def test_budget_refuses_at_the_cap_until_midnight():
    key_id = usage.key_id(usage.key_hash("sk-unit"))
    platform = platform_with(key_budgets={key_id: 200.0})
    evening = 86400 * 10 - 3600  # 23:00 UTC
    one = pricing.neurons(1000 * 0.045 / 1e6 + 2000 * 0.384 / 1e6)  # ≈ 73.9
    # TEST_CLOCK is off here: the platform's clock decides.
    platform.clock = lambda: evening
    served = 0
    while True:
        response = post(platform, "/v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]})
        if response.status != 200:
            break
        served += 1
    assert served == 3 and 3 * one >= 200 > 2 * one
    assert response.status == 429 and response.headers["Retry-After"] == "3600"
    assert '"code":"budget_exhausted"' in response.body
    # The table was read once for the 4 requests: the isolate adds its own requests' costs.
    assert len(platform.database.queries) == 1
    platform.clock = lambda: evening + 3600
    assert post(platform, "/v1/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}).status == 200


def test_another_isolates_spending_is_seen_after_the_refresh_interval(monkeypatch):
    key_id = usage.key_id(usage.key_hash("sk-unit"))
    platform = platform_with(key_budgets={key_id: 100.0})
    platform.clock = lambda: 86400 * 20 + 60
    chat = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}
    assert post(platform, "/v1/chat/completions", chat).status == 200  # ≈ 74 of 100
    # Another isolate spends 50 more: this one does not know yet...
    platform.database.db.execute("UPDATE usage SET neurons = neurons + 50")
    assert post(platform, "/v1/chat/completions", chat).status == 200
    # ...until its view is older than the refresh interval.
    monkeypatch.setattr(usage, "BUDGET_REFRESH_SECONDS", 0.0)
    assert post(platform, "/v1/chat/completions", chat).status == 429


def test_the_test_clock_header_is_ignored_unless_enabled():
    platform = platform_with()
    platform.clock = lambda: 1000.0
    request = make_request("GET", "/", headers={"x-test-now": "5"})
    assert usage.now(Context(request, platform)) == 1000.0
    enabled = platform_with(test_clock=True)
    assert usage.now(Context(request, enabled)) == 5.0


# --- translation cache -----------------------------------------------------------------------


def test_cached_lines_make_no_ai_call_and_are_counted_as_saved():
    platform = platform_with()
    body = {"text_list": ["Home", "About us", "Home"], "source_lang": "EN", "target_lang": "DE"}
    first = post(platform, "/translate", body)
    assert len(platform.ai.calls) == 2
    second = post(platform, "/translate", body)
    assert second.body == first.body and len(platform.ai.calls) == 2
    (entry,) = [value for value in platform.cache.entries.values() if value[0] == "[de] Home"]
    assert entry[1] == 30 * 86400
    (row,) = run(platform.database.query("SELECT * FROM usage", []))
    assert (row["requests"], row["ai_calls"], row["cache_hits"]) == (2, 2, 2)
    assert row["neurons_saved"] == pytest.approx(row["neurons"])
    assert row["characters"] == 2 * len("HomeAbout usHome")


def test_ttl_zero_turns_the_cache_off():
    platform = platform_with(translate_cache_ttl=0)
    body = {"text": "Hello", "source_lang": "EN", "target_lang": "FR"}
    post(platform, "/translate", body)
    post(platform, "/translate", body)
    assert len(platform.ai.calls) == 2 and platform.cache.entries == {}


def test_cache_keys_separate_models_and_languages():
    key = translation_cache.cache_key("https://gw.example", M2M, "en", "de", "Home")
    assert key.startswith("https://gw.example/__translation-cache/v1/%40cf%2Fmeta%2Fm2m100-1.2b/en/de/")
    assert key != translation_cache.cache_key("https://gw.example", M2M, "en", "fr", "Home")
    assert "Home" not in key


def test_deepl_usage_characters_come_from_the_same_table():
    platform = platform_with(translate_password="deepl-secret")
    headers = {"authorization": "DeepL-Auth-Key deepl-secret", "content-type": "application/json"}
    done = run(handle(make_request("POST", "/v2/translate", headers=headers, body={"text": ["Hallo", "Welt"], "target_lang": "EN"}), platform))
    assert done.status == 200
    (row,) = run(platform.database.query("SELECT * FROM usage", []))
    assert row["characters"] == len("HalloWelt") and row["key_hash"] == usage.key_hash("deepl-secret")
    # A new request (a new platform per request, as on Workers) reads the table, not an isolate's memory.
    database = platform.database
    fresh = platform_with(translate_password="deepl-secret")
    fresh.database = database
    answer = run(handle(make_request("GET", "/v2/usage", headers=headers), fresh))
    assert json.loads(answer.body)["character_count"] == len("HalloWelt")
