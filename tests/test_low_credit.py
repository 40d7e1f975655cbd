"""Low credit reaches the app: each balance read (the live test, ``credits``, the
pre-flight check of a bulk send, the read after a batch that cost money) is set against
the account's threshold, and a crossing below it is told once (recorded in the store),
to the app's callbacks and, with ``[admin]``, in a notice email.

Against the sms_credit plugin and its credit-keeping fake gateway over HTTPS.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from loopback.bulksms_api import fake_gateway
from loopback.certificates import write_ca_file

import postroom_sms_credit
from postroom import Engine
from postroom.plugins import PluginRegistry

TOKEN_ID, TOKEN_SECRET = "token-id", "token-secret"


@pytest.fixture
def gateway(ca):
    with fake_gateway(ca, logins={TOKEN_ID: TOKEN_SECRET}, balance=Decimal(104)) as fake:
        yield fake


@pytest.fixture
def make_engine(ca, gateway, tmp_path):
    """Engines on one outbox: an SMS account (threshold 100) and a file email account."""
    registry = PluginRegistry(entry_points=False, environ={})
    registry.register(postroom_sms_credit.plugin, ["sms_credit"],
                      distribution="postroom-sms-credit")
    bundle = write_ca_file(ca, tmp_path / "ca.pem")

    def make(**top) -> Engine:
        return Engine.from_dict({
            "region": "GB", **top,
            "accounts": {
                "texts": {"provider": "sms_credit", "token_id": TOKEN_ID,
                          "token_secret": TOKEN_SECRET, "sender": "Clinic",
                          "base_url": gateway.url, "ca_bundle": str(bundle), "timeout": 5,
                          "low_credit_threshold": 100},
                "mail": {"provider": "email_file"}}},
            base_dir=tmp_path, registry=registry, environ={})
    return make


def send_texts(engine: Engine, count: int) -> None:
    engine.send("texts", *[engine.message("texts", to=f"07700 9001{n:02d}", text="Reminder")
                           for n in range(count)])


def test_a_batch_that_takes_the_balance_below_the_threshold_is_told_once(make_engine,
                                                                         gateway, tmp_path):
    engine = make_engine(admin={"email": "it@example.org"})
    told = []
    engine.on_low_credit(told.append)
    send_texts(engine, 3)  # the pre-flight read: 104, above the threshold
    assert told == []
    engine.run_worker(once=True, wait=0, accounts=["texts"])
    assert gateway.balance == 101 and told == []
    send_texts(engine, 2)
    engine.run_worker(once=True, wait=0, accounts=["texts"])
    (low,) = told  # read after the batch: 99
    assert (low.account, low.balance, low.threshold, low.unit, low.source) == (
        "texts", Decimal(99), Decimal(100), "credits", "after a batch")
    send_texts(engine, 2)  # still low on the pre-flight read and after: no new crossing
    engine.run_worker(once=True, wait=0, accounts=["texts"])
    assert len(told) == 1
    (entry,) = engine.log(outcome="low-credit")
    assert entry.account == "texts" and "below the threshold of 100" in entry.text
    assert engine.status("texts")[0].low_credit_since is not None
    engine.run_worker(once=True, wait=0, accounts=["mail"])  # the admin's notice
    (notice,) = (tmp_path / "outbox" / "email").glob("*.eml")
    text = notice.read_text()
    assert "To: it@example.org" in text and "the credit of texts is low" in text


def test_every_balance_read_counts_and_a_top_up_rearms_the_alert(make_engine, gateway):
    engine = make_engine()
    told = []
    engine.on_low_credit(lambda found: told.append(found.source))
    gateway.balance = Decimal(99)
    assert engine.test("texts").ok
    assert engine.credits("texts").is_low
    assert told == ["test"]
    gateway.balance = Decimal(500)  # topped up
    engine.credits("texts")
    gateway.balance = Decimal(50)
    engine.credits("texts")
    assert told == ["test", "credits"]
    gateway.balance = Decimal(500)
    engine.test("texts")
    gateway.balance = Decimal(60)
    send_texts(engine, 2)  # read before the bulk send
    assert told == ["test", "credits", "pre-flight"]


def test_a_crossing_seen_by_two_processes_is_told_by_one(make_engine, gateway):
    here, there = make_engine(), make_engine()
    told = []
    here.on_low_credit(lambda found: told.append("here"))
    there.on_low_credit(lambda found: told.append("there"))
    gateway.balance = Decimal(10)
    there.credits("texts")
    here.credits("texts")
    assert told == ["there"]


def test_a_failing_callback_does_not_stop_the_others_or_the_read(make_engine, gateway):
    engine = make_engine()
    told = []

    @engine.on_low_credit
    def broken(found):
        raise RuntimeError("the app's bug")

    engine.on_low_credit(told.append)
    gateway.balance = Decimal(10)
    assert engine.credits("texts").balance == 10
    assert len(told) == 1
