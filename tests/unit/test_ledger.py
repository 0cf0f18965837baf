"""The ledger on SQLite (D1 is SQLite; the migrations run as written): conditional reservations,
settlements that count once and release their reservations, retries and settlements kept for later."""

from __future__ import annotations

import pytest

from fakes import SqliteDatabase, run
from gateway import ledger
from gateway.platform import DatabaseError

KEY, OTHER, DAY = "k" * 64, "o" * 64, "2026-03-05"


@pytest.fixture(autouse=True)
def fresh_isolate():
    ledger.reset()
    yield
    ledger.reset()


async def no_wait(_):
    return None


def hold(db, rid, neurons=0.0, characters=0, *, cap=None, limit=None, key=KEY, day=DAY) -> bool:
    return run(ledger.reserve(db, rid, key, day, neurons=neurons, characters=characters,
                              limits=ledger.Limits(neurons=cap, characters=limit), sleep=no_wait))


def settle(db, sid, rows, *, key=KEY, day=DAY, sleep=None):
    return run(ledger.settle(db, ledger.settlement(sid, key, day, rows), sleep=sleep or no_wait))


def row(model="m", requests=1, ai_calls=1, neurons=0.0, cache_hits=0, saved=0.0, characters=0):
    return (model, requests, ai_calls, neurons, cache_hits, saved, characters)


def test_reservations_hold_up_to_the_cap_and_not_a_neuron_past_it():
    db = SqliteDatabase()
    assert hold(db, "a:1", 50, cap=100) and hold(db, "b:1", 50, cap=100)
    assert not hold(db, "c:1", 0.5, cap=100)
    assert run(ledger.spent(db, KEY, DAY)) == (0.0, 100.0)
    settle(db, "a", [row(neurons=25)])  # a spent 25 of its 50: 25 come back
    assert run(ledger.spent(db, KEY, DAY)) == (25.0, 50.0)
    assert hold(db, "c:1", 25, cap=100)  # exactly at the cap: 25 + 50 + 25
    assert not hold(db, "d:1", 0.001, cap=100)
    assert db.rows("SELECT id FROM reservations ORDER BY id") == [{"id": "b:1"}, {"id": "c:1"}]


def test_no_cap_always_holds_and_caps_are_per_key_and_day():
    db = SqliteDatabase()
    assert hold(db, "a:1", 1e9)  # no cap
    assert hold(db, "b:1", 10, cap=10, key=OTHER)  # another key's 1e9 does not count
    assert hold(db, "c:1", 10, cap=10, day="2026-03-06")  # nor another day's
    assert not hold(db, "d:1", 10, cap=10, key=OTHER)
    assert not hold(db, "e:1", 1, cap=0)


def test_characters_are_held_per_month():
    db = SqliteDatabase()
    settle(db, "a", [row(characters=30)], day="2026-03-01")
    settle(db, "b", [row(characters=30)], day="2026-02-28")  # last month: not counted
    assert hold(db, "c:1", characters=10, limit=40, day="2026-03-20")  # 30 + 10 = 40
    assert not hold(db, "d:1", characters=1, limit=40, day="2026-03-20")
    assert run(ledger.characters(db, KEY, "2026-03-20")) == 40
    assert run(ledger.characters(db, KEY, "2026-04-01")) == 0
    # The neuron cap and the character limit are checked together.
    assert not hold(db, "e:1", 5, characters=0, cap=4, limit=1000, day="2026-03-20")


def test_a_settlement_adds_to_usage_releases_its_reservations_and_counts_once():
    db = SqliteDatabase()
    assert hold(db, "s1:1", 30, cap=100) and hold(db, "s1:2", 30, cap=100) and hold(db, "s10:1", 5, cap=100)
    assert settle(db, "s1", [row("m", 1, 2, 12.5, 1, 0.25, 7), row("n", 1, 1, 1.5)])
    usage = db.rows("SELECT model, requests, ai_calls, neurons, cache_hits, neurons_saved, characters FROM usage ORDER BY model")
    assert usage == [{"model": "m", "requests": 1, "ai_calls": 2, "neurons": 12.5, "cache_hits": 1, "neurons_saved": 0.25, "characters": 7},
                     {"model": "n", "requests": 1, "ai_calls": 1, "neurons": 1.5, "cache_hits": 0, "neurons_saved": 0.0, "characters": 0}]
    # s1's two reservations are gone; s10's (a longer id with the same start) is not.
    assert db.rows("SELECT id FROM reservations") == [{"id": "s10:1"}]
    # Written again (a retry of a write that landed): nothing changes.
    assert settle(db, "s1", [row("m", 1, 2, 12.5, 1, 0.25, 7), row("n", 1, 1, 1.5)])
    assert db.rows("SELECT SUM(neurons) AS n, SUM(requests) AS r FROM usage") == [{"n": 14.0, "r": 2}]
    # Another request adds to the same rows.
    assert settle(db, "s2", [row("m", 1, 1, 0.5)])
    assert db.rows("SELECT requests, neurons FROM usage WHERE model = 'm'") == [{"requests": 2, "neurons": 13.0}]


def test_a_settlement_without_spending_only_releases():
    db = SqliteDatabase()
    assert hold(db, "x:1", 30, cap=100)
    assert ledger.settlement("x", KEY, DAY, [])[0] == ledger.RELEASE_SQL
    settle(db, "x", [])
    assert db.rows("SELECT * FROM reservations") == [] and db.rows("SELECT * FROM usage") == []


def test_old_settlement_ids_are_dropped_after_two_days():
    db = SqliteDatabase()
    settle(db, "old", [row()], day="2026-03-01")
    settle(db, "new", [row()], day="2026-03-03")
    assert {r["id"] for r in db.rows("SELECT id FROM settlements")} == {"old", "new"}
    settle(db, "newer", [row()], day="2026-03-04")
    assert {r["id"] for r in db.rows("SELECT id FROM settlements")} == {"new", "newer"}


class Flaky(SqliteDatabase):
    """Fails the next `failures` statements, or lands them and then fails (`lands=True`: the
    answer was lost, the write was not)."""

    def __init__(self, failures=0, lands=False):
        super().__init__()
        self.failures, self.lands = failures, lands

    async def changes(self, sql, params):  # execute() comes through here too
        if self.failures:
            self.failures -= 1
            if self.lands:
                await super().changes(sql, params)
            raise DatabaseError("D1_ERROR: Network connection lost.")
        return await super().changes(sql, params)


def test_a_failed_write_is_retried():
    db = Flaky(failures=2)
    pauses = []

    async def sleep(seconds):
        pauses.append(seconds)

    assert settle(db, "s", [row(neurons=2)], sleep=sleep)
    assert pauses == [0.05, 0.25] and db.rows("SELECT neurons FROM usage") == [{"neurons": 2.0}]
    assert ledger.FAILURES.report() == {"reserve_failures": 0, "settle_failures": 0, "pending": 0, "written_late": 0, "dropped": 0}


def test_a_write_that_landed_but_failed_to_answer_counts_once():
    db = Flaky(failures=1, lands=True)
    assert settle(db, "s", [row(neurons=2)])
    assert db.rows("SELECT requests, neurons FROM usage") == [{"requests": 1, "neurons": 2.0}]


def test_settlements_wait_in_the_isolate_while_the_database_is_down():
    db = SqliteDatabase()
    db.fail = True
    assert settle(db, "a", [row(neurons=1)]) is False
    assert settle(db, "b", [row(neurons=2)]) is False
    assert ledger.FAILURES.report()["pending"] == 2 and ledger.FAILURES.settle == 2
    db.fail = False
    assert settle(db, "c", [row(neurons=4)])
    assert db.rows("SELECT requests, neurons FROM usage") == [{"requests": 3, "neurons": 7.0}]
    assert ledger.FAILURES.report()["pending"] == 0 and ledger.FAILURES.written_late == 2
    assert settle(db, "d", [row(neurons=8)])  # nothing twice
    assert db.rows("SELECT requests, neurons FROM usage") == [{"requests": 4, "neurons": 15.0}]


def test_at_most_max_pending_wait_and_the_oldest_go_first(monkeypatch):
    monkeypatch.setattr(ledger, "MAX_PENDING", 2)
    db = SqliteDatabase()
    db.fail = True
    for name in ("a", "b", "c"):
        settle(db, name, [row(neurons=1)])
    assert ledger.FAILURES.dropped == 1 and ledger.FAILURES.report()["pending"] == 2
    db.fail = False
    settle(db, "d", [row(neurons=1)])
    assert {r["id"] for r in db.rows("SELECT id FROM settlements")} == {"b", "c", "d"}


def test_a_failing_reservation_is_retried_then_counted_and_raised():
    db = SqliteDatabase()
    db.fail = True
    with pytest.raises(DatabaseError):
        hold(db, "a:1", 1, cap=10)
    assert ledger.FAILURES.reserve == 1 and len(db.statements) == 3
    flaky = Flaky(failures=1)
    assert hold(flaky, "b:1", 1, cap=10) and ledger.FAILURES.reserve == 1


def test_a_reservation_that_landed_but_failed_to_answer_is_held_once():
    db = Flaky(failures=1, lands=True)
    assert hold(db, "a:1", 6, cap=10)
    assert db.rows("SELECT id, neurons FROM reservations") == [{"id": "a:1", "neurons": 6.0}]


def test_an_error_other_than_a_duplicate_is_not_taken_for_one():
    db = SqliteDatabase()
    db.db.execute("DROP TABLE settlements")
    assert not settle(db, "s", [row()])
    assert ledger.FAILURES.settle == 1


def test_the_character_limit_counts_requests_in_flight_this_month_of_this_key_only():
    db = SqliteDatabase()
    assert hold(db, "a:1", characters=10, limit=1000, day="2026-03-01")  # in flight since the 1st
    assert hold(db, "b:1", characters=100, limit=1000, day="2026-02-28")  # last month
    assert hold(db, "c:1", characters=100, limit=1000, day="2026-03-05", key=OTHER)  # another key
    assert run(ledger.characters(db, KEY, "2026-03-20")) == 10
    assert hold(db, "d:1", characters=30, limit=40, day="2026-03-20")  # 10 + 30 = 40
    assert not hold(db, "e:1", characters=1, limit=40, day="2026-03-20")
    assert run(ledger.characters(db, "new" * 20, "2026-03-20")) == 0


def test_a_limit_of_zero_refuses_and_no_limit_ignores_what_was_translated():
    db = SqliteDatabase()
    settle(db, "a", [row(characters=500, neurons=2)])
    assert not hold(db, "b:1", characters=1, limit=0)
    assert not hold(db, "c:1", 0.5, cap=0)
    # No character limit: a key that translated before still reserves neurons.
    assert hold(db, "d:1", 1.0, cap=10)
    assert hold(db, "e:1", 0.0, characters=5)


def test_what_a_key_spent_is_its_own_day_only():
    db = SqliteDatabase()
    settle(db, "a", [row(neurons=3)])
    settle(db, "b", [row(neurons=40)], key=OTHER)
    settle(db, "c", [row(neurons=50)], day="2026-03-04")
    assert hold(db, "d:1", 4, cap=100)
    assert hold(db, "e:1", 60, cap=100, key=OTHER)
    assert run(ledger.spent(db, KEY, DAY)) == (3.0, 4.0)
    assert run(ledger.spent(db, "fresh" * 12, DAY)) == (0.0, 0.0)


def test_releasing_one_request_leaves_the_others_reservations():
    db = SqliteDatabase()
    assert hold(db, "x:1", 1) and hold(db, "x:2", 1) and hold(db, "y:1", 1) and hold(db, "w:1", 1)
    settle(db, "x", [])
    assert [r["id"] for r in db.rows("SELECT id FROM reservations ORDER BY id")] == ["w:1", "y:1"]


def test_a_reservation_is_retried_after_a_pause():
    db = Flaky(failures=2)
    pauses = []

    async def sleep(seconds):
        pauses.append(seconds)

    assert run(ledger.reserve(db, "a:1", KEY, DAY, neurons=1.0, characters=0, limits=ledger.Limits(neurons=5), sleep=sleep))
    assert pauses == [0.05, 0.25]


def test_a_kept_settlement_that_fails_again_is_kept_again():
    db = SqliteDatabase()
    db.fail = True
    assert settle(db, "a", [row(neurons=1)]) is False
    assert settle(db, "b", [row(neurons=2)]) is False

    db.fail = False
    calls = []
    real = db.execute

    async def once_then_down(sql, params):
        calls.append(sql)
        if len(calls) > 1:
            raise DatabaseError("D1_ERROR: down again")
        return await real(sql, params)

    db.execute = once_then_down
    assert settle(db, "c", [row(neurons=4)]) is True  # its own write landed; the kept ones did not
    assert ledger.FAILURES.report()["pending"] == 2
    db.execute = real
    assert settle(db, "d", [row(neurons=8)]) is True
    assert db.rows("SELECT requests, neurons FROM usage") == [{"requests": 4, "neurons": 15.0}]


def test_the_isolate_keeps_at_most_a_thousand_settlements():
    assert ledger.MAX_PENDING == 1000 and ledger.RETRY_PAUSES == (0.05, 0.25)
