"""The credit pre-flight counts what the account already has queued, through the real
sms_credit plugin and its fake gateway: two bulk sends share one balance."""

from __future__ import annotations

import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from loopback.bulksms_api import fake_gateway
from loopback.certificates import write_ca_file

import postroom_sms_credit
from postroom import Engine, InsufficientCredits
from postroom.notifications import Contact, Event
from postroom.plugins import PluginRegistry

TOKEN_ID = "fake-token-id"
TOKEN_SECRET = "fake-token-secret"
NUMBER = "+447700900123"
BLOCKED = "+447700900999"
TEMPLATES = Path(__file__).parent / "fixtures" / "templates"


@pytest.fixture
def gateway(ca):
    with fake_gateway(ca, logins={TOKEN_ID: TOKEN_SECRET}, balance=Decimal(10)) as fake:
        yield fake


@pytest.fixture
def make_engine(gateway, ca, tmp_path):
    """``make_engine(preflight)``: one ``texts`` account on the fake gateway."""
    registry = PluginRegistry(entry_points=False, environ={})
    registry.register(postroom_sms_credit, ["sms_credit"], distribution="postroom-sms-credit")
    ca_file = write_ca_file(ca, tmp_path / "ca.pem")
    shutil.copytree(TEMPLATES, tmp_path / "templates")

    def make(preflight: str = "refuse") -> Engine:
        account = {"provider": "sms_credit", "token_id": TOKEN_ID, "token_secret": TOKEN_SECRET,
                   "base_url": gateway.url, "ca_bundle": str(ca_file), "timeout": 5,
                   "preflight": preflight}
        return Engine.from_dict({"region": "GB", "templates": {"directory": "templates"},
                                 "accounts": {"texts": account}},
                                base_dir=tmp_path, registry=registry, environ={})

    return make


@pytest.fixture
def engine(make_engine) -> Engine:
    return make_engine()


def texts(engine: Engine, count: int, to: str = NUMBER) -> list:
    """``count`` one-part messages: one credit each."""
    return [engine.message("texts", to=to, text=f"Reminder {n}") for n in range(count)]


def waiting(engine: Engine) -> int:
    return sum(row.waiting + row.scheduled for row in engine.queue())


def test_queued_and_new_messages_over_the_balance_are_refused(engine):
    engine.send("texts", *texts(engine, 6))  # 6 of the 10 credits
    with pytest.raises(InsufficientCredits) as refused:
        engine.send("texts", *texts(engine, 6))
    short = refused.value
    assert (short.needed, short.queued, short.queued_messages, short.balance, short.missing) == (
        6, 6, 6, 10, 2)
    assert ("this send needs 6 credits and the 6 messages already queued need 6, 12 in all; "
            "the account has 10: 2 missing; top the account up") in str(short)
    assert "postroom queue" in str(short)
    assert waiting(engine) == 6  # the refused send queued nothing


def test_queued_and_new_messages_over_the_balance_are_held(make_engine, gateway):
    engine = make_engine("hold")
    engine.send("texts", *texts(engine, 6))
    assert engine.store.pauses(engine.clock()) == {}
    engine.send("texts", *texts(engine, 6))
    (pause,) = engine.store.pauses(engine.clock()).values()
    assert pause.reason == ("held for credits: 2 credits missing (6 for this send and 6 for "
                            "the 6 already queued, against a balance of 10); top the account up")
    assert waiting(engine) == 12
    assert engine.run_worker(once=True, wait=0).batches == 0
    assert gateway.charged == 0


def test_sent_and_dead_messages_do_not_count(engine, gateway):
    gateway.block(BLOCKED)
    engine.send("texts", *texts(engine, 4), *texts(engine, 1, to=BLOCKED))
    engine.run_worker(once=True, wait=0)
    (row,) = engine.queue()
    assert (row.sent, row.dead, waiting(engine)) == (4, 1, 0)
    assert gateway.balance == 5  # the blocked one is billed too
    assert len(engine.send("texts", *texts(engine, 5))) == 5


def test_messages_waiting_to_retry_count(engine, gateway):
    engine.send("texts", *texts(engine, 4))
    gateway.answer_next(503, times=2)  # the submission and its one resubmission
    engine.run_worker(once=True, wait=0)
    (row,) = engine.queue()
    assert (row.sent, waiting(engine), gateway.charged) == (0, 4, 0)
    assert engine.log(outcome="transient")
    with pytest.raises(InsufficientCredits) as refused:
        engine.send("texts", *texts(engine, 7))
    assert (refused.value.queued, refused.value.missing) == (4, 1)


def test_queued_and_new_messages_within_the_balance_go_through(engine):
    engine.send("texts", *texts(engine, 6))
    assert len(engine.send("texts", *texts(engine, 4))) == 4  # 10 of 10
    assert waiting(engine) == 10
    assert engine.store.pauses(engine.clock()) == {}


def test_a_queued_message_costs_what_it_did_when_new(engine, gateway):
    gateway.balance = Decimal(1000)
    batch = [engine.message("texts", to=NUMBER, text=text)
             for text in ("Hi", "x" * 200, "ж" * 80, "€" * 81)]
    config = engine.account("texts").config
    assert config.credits_needed(batch) == 7
    engine.send("texts", *batch)
    gateway.balance = Decimal(8)
    with pytest.raises(InsufficientCredits) as refused:
        engine.send("texts", *texts(engine, 2))
    assert (refused.value.queued, refused.value.missing) == (7, 1)


def test_a_repeated_send_is_not_counted_against_its_own_first_copy(engine):
    first = engine.send("texts", *texts(engine, 6), idempotency_key="term-letters")
    again = engine.send("texts", *texts(engine, 6), idempotency_key="term-letters")
    assert again == first
    assert waiting(engine) == 6


def test_notify_counts_what_is_queued_too(engine):
    engine.register_event(Event(name="reminder", template="reminder", channels=("sms",)))
    people = [Contact(id=f"p{n}", phone=f"07700 90012{n}", name=f"P{n}") for n in range(3)]
    context = {"appointment": datetime(2026, 3, 3, 9, 30, tzinfo=ZoneInfo("Europe/London")),
               "clinic": "North St", "office_phone": "01632 960000", "note": "Bring your card."}
    engine.send("texts", *texts(engine, 8))
    with pytest.raises(InsufficientCredits) as refused:
        engine.notify("reminder", people, context)
    assert (refused.value.needed, refused.value.queued) == (3, 8)
    assert waiting(engine) == 8
