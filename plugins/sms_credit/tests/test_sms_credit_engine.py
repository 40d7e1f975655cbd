"""Through postroom's engine and worker: out of credit keeps messages queued until topped up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from postroom import InsufficientCredits
from postroom_sms_credit import shortfall

NUMBER = "+447700900123"


class Clock:
    """A clock the test moves, so an account's pause can pass without waiting."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_out_of_credit_pauses_the_account_and_loses_nothing(make_engine, settings, gateway):
    clock = Clock()
    gateway.balance = Decimal(1)
    # No pre-flight, so the gateway's own refusal at send time is what is tested.
    engine = make_engine({**settings, "preflight": "off"}, delivery={"stopped_pause": 600})
    engine.clock = clock
    ids = engine.send("texts", *[engine.message("texts", to=NUMBER, text=f"Reminder {n}")
                                 for n in range(3)])
    engine.run_worker(once=True, wait=0)
    assert gateway.charged == 0  # the gateway refused the whole submission
    (row,) = engine.queue()
    assert (row.dead, row.sent, row.waiting + row.scheduled) == (0, 0, 3)
    stopped = engine.log(outcome="account_stopped")
    assert {e.message_id for e in stopped} == set(ids)
    assert "3 credits and the account has 1: 2 missing" in stopped[0].text
    gateway.balance = Decimal(10)  # topped up
    clock.now += 601
    engine.run_worker(once=True, wait=0)
    (row,) = engine.queue()
    assert (row.dead, row.sent) == (0, 3)
    assert gateway.charged == 3 and gateway.balance == 7


def test_the_preflight_inputs_tell_how_many_credits_are_missing(engine, gateway):
    """What the engine's pre-flight check sets against each other, by hand."""
    gateway.balance = Decimal(5)
    config = engine.account("texts").config
    batch = [engine.message("texts", to=NUMBER, text=text)
             for text in ("Hi", "x" * 200, "ж" * 80)]
    needed = config.credits_needed(batch)
    balance = engine.credits("texts").balance
    assert (needed, shortfall(needed, balance)) == (Decimal(5), Decimal(0))
    batch.append(engine.message("texts", to=NUMBER, text="one more"))
    needed = config.credits_needed(batch)
    assert (needed, shortfall(needed, balance)) == (Decimal(6), Decimal(1))
    assert config.preflight == "refuse"
    # Without the engine's check the gateway refuses the whole submission.
    results = engine.deliver("texts", batch)
    assert {r.outcome.value for r in results} == {"account_stopped"}
    assert "need 6 credits and the account has 5: 1 missing" in results[0].text
    assert gateway.charged == 0


def test_the_preflight_refuses_a_bulk_send_the_balance_cannot_pay(engine, gateway):
    engine.send("texts", to=NUMBER, text="already queued")
    gateway.balance = Decimal(2)
    batch = [engine.message("texts", to=NUMBER, text=text) for text in ("Hi", "x" * 200)]
    with pytest.raises(InsufficientCredits) as refused:
        engine.send("texts", *batch)
    # The message already queued is paid from the same balance.
    assert (refused.value.needed, refused.value.queued, refused.value.balance,
            refused.value.missing) == (Decimal(3), Decimal(1), Decimal(2), Decimal(2))
    assert ("needs 3 credits and the message already queued needs 1, 4 in all; the account "
            "has 2: 2 missing") in str(refused.value)
    (row,) = engine.queue()
    assert row.waiting == 1  # only what was there before
    gateway.balance = Decimal(4)
    assert len(engine.send("texts", *batch)) == 2


def test_the_preflight_can_hold_a_send_until_the_account_is_topped_up(make_engine, settings,
                                                                      gateway):
    gateway.balance = Decimal(1)
    engine = make_engine({**settings, "preflight": "hold"})
    engine.send("texts", *[engine.message("texts", to=NUMBER, text=f"n{n}") for n in range(3)])
    (pause,) = engine.store.pauses(engine.clock()).values()
    assert pause.reason == "held for credits: 2 credits missing"
    assert engine.run_worker(once=True, wait=0).batches == 0
    assert gateway.charged == 0
