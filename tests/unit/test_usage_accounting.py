"""Usage accounting, the reading side: key ids, budgets by name, the day and the clock, the report
of /v1/usage (with what requests in flight hold). Metering and the ledger: test_metering.py,
test_ledger.py; prices: test_pricing.py."""

from __future__ import annotations

import json

import pytest

from fakes import FakeAi, SqliteDatabase, make_platform, make_request, run
from gateway import ledger, usage
from gateway.app import handle
from gateway.config import Settings, parse_budgets
from gateway.platform import Context

CHAT = "@cf/meta/llama-3.1-8b-instruct-fast"
# sha256("workers-ai-gateway usage\0sk-unit") and sha256("workers-ai-gateway usage\0sk-other"),
# worked out with hashlib outside the gateway.
UNIT_HASH = "24882fb3103e24bc38b11fff199acf1b32ff3ee88aebf783245711688e413ce1"
OTHER_HASH = "79fe4b3c615566e86aa9f7068f28fc10ad00eaf1f28d31d0bbd954af3a658148"


@pytest.fixture(autouse=True)
def fresh_isolate():
    ledger.reset()
    yield
    ledger.reset()


def test_a_key_is_stored_as_a_salted_sha256_and_named_by_its_first_16_digits():
    assert usage.key_hash("sk-unit") == UNIT_HASH
    assert usage.key_id(UNIT_HASH) == "24882fb3103e24bc"
    assert usage.KEY_ID_LENGTH == 16


def test_key_budgets_parse_pairs_and_json():
    assert parse_budgets("abc=100, *=5000,bad=x,neg=-1") == {"abc": 100.0, "*": 5000.0}
    assert parse_budgets('{"abc": 7}') == {"abc": 7.0}
    assert parse_budgets("") == {} and parse_budgets(None) == {} and parse_budgets("{broken") == {}
    assert parse_budgets("a=1=2") == {"a=1": 2.0}  # the last `=` splits: a key may hold one
    assert parse_budgets("zero=0") == {"zero": 0.0}


def test_a_budget_is_found_by_id_then_hash_then_key_then_star():
    settings = Settings(key_budgets={"24882fb3103e24bc": 1.0, UNIT_HASH: 2.0, "sk-unit": 3.0, "*": 4.0})
    assert usage.daily_neuron_budget(settings, UNIT_HASH, "sk-unit") == 1.0
    assert usage.daily_neuron_budget(Settings(key_budgets={UNIT_HASH: 2.0, "sk-unit": 3.0, "*": 4.0}), UNIT_HASH, "sk-unit") == 2.0
    assert usage.daily_neuron_budget(Settings(key_budgets={"sk-unit": 3.0, "*": 4.0}), UNIT_HASH, "sk-unit") == 3.0
    assert usage.daily_neuron_budget(Settings(key_budgets={"*": 4.0}), UNIT_HASH, "sk-unit") == 4.0
    assert usage.daily_neuron_budget(Settings(key_budgets={"*": 0.0}), UNIT_HASH, "sk-unit") == 0.0
    assert usage.daily_neuron_budget(Settings(key_budgets={"79fe4b3c615566e8": 5.0}), UNIT_HASH, "sk-unit") is None
    assert usage.daily_neuron_budget(Settings(), UNIT_HASH, "sk-unit") is None


def test_seconds_to_midnight_and_days_are_utc():
    assert usage.seconds_to_midnight(86400 * 3 - 600) == 600
    assert usage.seconds_to_midnight(86400 * 3 - 599.5) == 600  # part of a second counts as one
    assert usage.seconds_to_midnight(86400 * 3 - 0.5) == 1
    assert usage.seconds_to_midnight(86400 * 3 - 0.0005) == 1  # never 0: Retry-After 0 would invite a retry now
    assert usage.seconds_to_midnight(86400 * 3) == 86400
    assert usage.utc_day(86400 * 3 - 1) == "1970-01-03"
    assert usage.utc_day(1_764_979_200) == "2025-12-06"  # 2025-12-06T00:00:00Z
    assert usage.utc_day(1_764_979_199.9) == "2025-12-05"
    assert usage.MAX_DAYS == 90


def test_the_test_clock_header_is_ignored_unless_enabled():
    platform = make_platform()
    platform.clock = lambda: 1000.0
    request = make_request("GET", "/", headers={"x-test-now": "5"})
    assert usage.now(Context(request, platform)) == 1000.0
    enabled = make_platform(test_clock=True)
    enabled.clock = lambda: 42.0
    assert usage.now(Context(request, enabled)) == 5.0
    assert usage.now(Context(make_request("GET", "/", headers={"x-test-now": "soon"}), enabled)) == 42.0
    assert usage.now(Context(make_request("GET", "/"), enabled)) == 42.0


def answer(model, inputs):
    return {"response": "ok", "usage": {"prompt_tokens": 1000, "completion_tokens": 2000}}


def gateway(**settings):
    settings.setdefault("api_keys", ("sk-unit", "sk-other", "sk-admin-0123456789"))
    platform = make_platform(FakeAi(answer), **settings)
    platform.database = SqliteDatabase()
    return platform


def post(platform, path, body, key="sk-unit"):
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    return run(handle(make_request("POST", path, headers=headers, body=body), platform))


def get(platform, path, key="sk-unit"):
    return json.loads(run(handle(make_request("GET", path, headers={"authorization": f"Bearer {key}"}), platform)).body)


def test_requests_that_reach_no_model_are_not_recorded():
    platform = gateway()
    run(handle(make_request("GET", "/v1/models", headers={"authorization": "Bearer sk-unit"}), platform))
    assert post(platform, "/v1/chat/completions", {"model": CHAT, "messages": "nope"}).status == 400
    assert platform.database.statements == []


def test_the_report_shows_a_key_itself_and_admins_every_key_with_what_is_held():
    platform = gateway(admin_keys=("sk-admin-0123456789",), key_budgets={"*": 500.0})
    platform.clock = lambda: 86400 * 97 + 60  # 1970-04-08: outside the windows below
    chat = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}]}
    assert post(platform, "/v1/chat/completions", chat).status == 200
    platform.clock = lambda: 86400 * 100 + 60  # 1970-04-11
    for key in ("sk-unit", "sk-unit", "sk-other"):
        assert post(platform, "/v1/chat/completions", chat, key=key).status == 200
    # A request of sk-other still in flight: 7.5 neurons held.
    run(ledger.reserve(platform.database, "inflight:1", OTHER_HASH, "1970-04-11", neurons=7.5, characters=0, limits=ledger.Limits()))
    own = get(platform, "/v1/usage?days=2")
    assert own["scope"] == "own" and own["key_id"] == "24882fb3103e24bc" and own["days"] == ["1970-04-10", "1970-04-11"]
    assert (own["object"], own["estimated"], own["prices"]) == ("usage", True, "https://developers.cloudflare.com/workers-ai/platform/pricing/")
    (entry,) = own["keys"]
    assert set(entry["days"]) == {"1970-04-11"}  # 1970-04-08 is outside the two days asked for
    day = entry["days"]["1970-04-11"]
    # 1000 × 0.045e-6 + 2000 × 0.384e-6 = 8.13e-4 USD = 73.909 neurons a request
    assert (day["requests"], day["ai_calls"], day["neurons"], day["held_neurons"]) == (2, 2, 147.818, 0.0)
    model = day["models"][CHAT]
    assert (model["requests"], model["neurons"], model["neurons_saved"], model["cache_hits"]) == (2, 147.818, 0.0, 0)
    assert entry["label"] == "this key" and entry["budget_neurons_per_day"] == 500.0
    assert own["total_neurons"] == {"1970-04-10": 0.0, "1970-04-11": 147.818}
    assert len(get(platform, "/v1/usage?days=5")["keys"][0]["days"]) == 2  # 04-08 and 04-11
    assert get(platform, "/v1/usage?days=90")["days"][0] == "1970-01-12"
    everyone = get(platform, "/v1/usage?days=1", key="sk-admin-0123456789")
    assert everyone["scope"] == "all"
    by_id = {k["key_id"]: k for k in everyone["keys"]}
    assert by_id["79fe4b3c615566e8"]["days"]["1970-04-11"]["held_neurons"] == 7.5
    assert by_id["79fe4b3c615566e8"]["label"] == "API key 2"
    assert everyone["total_neurons"] == {"1970-04-11": 221.727}
    assert "sk-unit" not in json.dumps(everyone) and "sk-other" not in json.dumps(everyone)
    assert everyone["allocation_neurons_per_day"] == 10_000


def test_usage_days_must_be_1_to_90():
    platform = gateway()
    for bad in ("0", "91", "x", "1.5"):
        response = run(handle(make_request("GET", f"/v1/usage?days={bad}", headers={"authorization": "Bearer sk-unit"}), platform))
        assert response.status == 400, bad


def test_labels_give_the_last_four_characters_of_long_keys_only():
    settings = Settings(api_keys=("short", "sk-a-rather-long-key-1234", "exactly-16-chars", "exactly-15-char"),
                        admin_keys=("admin-key-long-enough-9876",), translate_password="pw")
    names = usage.labels(settings)
    assert names[usage.key_hash("short")] == "API key 1"
    assert names[usage.key_hash("exactly-16-chars")] == "API key 3 (…hars)"
    assert names[usage.key_hash("exactly-15-char")] == "API key 4"
    assert names[usage.key_hash("sk-a-rather-long-key-1234")] == "API key 2 (…1234)"
    assert names[usage.key_hash("admin-key-long-enough-9876")] == "admin key 1 (…9876)"
    assert names[usage.key_hash("pw")] == "translate secret"


def test_the_report_rounds_to_thousandths_at_every_level_and_keeps_to_its_window():
    platform = gateway()
    database = platform.database
    platform.clock = lambda: 86400 * 100 + 60  # 1970-04-11 00:01
    rows = [("m1", 1, 1, 1.23456, 0, 0.11111, 0), ("m2", 1, 1, 2.34567, 1, 0.22222, 3)]
    run(ledger.settle(database, ledger.settlement("a", UNIT_HASH, "1970-04-11", rows)))
    run(ledger.settle(database, ledger.settlement("b", UNIT_HASH, "1970-01-12", [("m1", 1, 1, 1.0, 0, 0.0, 0)])))  # first of 90 days
    run(ledger.settle(database, ledger.settlement("c", UNIT_HASH, "1970-01-11", [("m1", 1, 1, 1.0, 0, 0.0, 0)])))  # the day before
    run(ledger.reserve(database, "d:1", UNIT_HASH, "1970-04-11", neurons=7.12345, characters=0, limits=ledger.Limits()))
    run(ledger.reserve(database, "e:1", UNIT_HASH, "1970-04-10", neurons=0.0, characters=9, limits=ledger.Limits()))
    body = get(platform, "/v1/usage?days=90")
    days = body["keys"][0]["days"]
    assert set(days) == {"1970-01-12", "1970-04-10", "1970-04-11"}
    today = days["1970-04-11"]
    assert today["models"]["m1"]["neurons"] == 1.235 and today["models"]["m2"]["neurons"] == 2.346
    assert today["models"]["m1"]["neurons_saved"] == 0.111 and today["models"]["m2"]["neurons_saved"] == 0.222
    assert (today["neurons"], today["neurons_saved"], today["held_neurons"]) == (3.581, 0.333, 7.123)
    assert (today["requests"], today["cache_hits"], today["characters"]) == (2, 1, 3)
    assert days["1970-04-10"]["held_neurons"] == 0.0  # characters held, no neurons
    assert body["total_neurons"]["1970-04-11"] == 3.581 and body["total_neurons"]["1970-01-12"] == 1.0
