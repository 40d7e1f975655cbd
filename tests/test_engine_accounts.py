"""The operator's API for an account as a whole: flush, disable and enable, reset_counter,
status and sent_today, against a real outbox file and the file providers, on a fake clock."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from postroom import AsyncEngine, ConfigError, Engine

LONDON = ZoneInfo("Europe/London")
WHO = "ann (web, 127.0.0.1)"


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp()


@pytest.fixture
def clock():
    return [at("2026-03-04T10:00")]


@pytest.fixture
def make_engine(tmp_path, clock):
    def make(mail: dict | None = None, texts: dict | None = None) -> Engine:
        return Engine.from_dict({
            "region": "GB", "timezone": "Europe/London",
            "delivery": {"max_attempts": 1},
            "accounts": {"mail": {"provider": "email_file", **(mail or {})},
                         "texts": {"provider": "sms_file", **(texts or {})}}},
            base_dir=tmp_path, environ={}, clock=lambda: clock[0])
    return make


def eml_count(tmp_path) -> int:
    folder = tmp_path / "outbox" / "email"
    return len(list(folder.glob("*.eml"))) if folder.exists() else 0


def queue_mail(engine: Engine, count: int) -> list[str]:
    return [engine.send("mail", to=f"p{i}@example.org", subject=f"n{i}", text="x")[0]
            for i in range(count)]


def test_a_manual_account_sends_only_when_flushed_and_the_flush_is_logged(make_engine,
                                                                          tmp_path):
    engine = make_engine({"schedule": {"mode": "manual", "stagger": 3600}})
    ids = queue_mail(engine, 3)
    assert engine.run_worker(once=True, wait=0).sent == 0
    (status,) = engine.status("mail")
    assert status.why_held == "manual sending: held until someone flushes the queue"
    assert engine.flush("mail", by=WHO) == 3
    assert engine.run_worker(once=True, wait=0).sent == 3  # no stagger between them
    assert eml_count(tmp_path) == 3
    (note,) = engine.log(outcome="flushed")
    assert (note.account, note.text, note.info) == ("mail", "3 waiting messages to be sent "
                                                            "now", {"by": WHO})
    assert {e.message_id for e in engine.log(outcome="accepted")} == set(ids)
    assert engine.flush("mail") == 0


def test_a_scheduled_account_sends_at_its_checks(make_engine, clock, tmp_path):
    engine = make_engine({"schedule": {"mode": "scheduled", "at": ["09:00", "13:00"]}})
    queue_mail(engine, 2)
    assert engine.run_worker(once=True, wait=0).sent == 0
    (status,) = engine.status("mail")
    assert status.next_check == datetime.fromtimestamp(at("2026-03-04T13:00"), LONDON)
    clock[0] = at("2026-03-04T13:00")
    assert engine.run_worker(once=True, wait=0).sent == 2


def test_disable_keeps_the_messages_queued_and_enable_lets_them_go(make_engine, tmp_path):
    engine = make_engine()
    ids = queue_mail(engine, 2)
    assert engine.disable("mail", "moving to the new server", by=WHO) is True
    assert engine.disable("mail", by=WHO) is False
    assert engine.run_worker(once=True, wait=0).sent == 0
    assert [engine.store.find(i).state for i in ids] == ["queued", "queued"]
    (status,) = engine.status("mail")
    assert (status.enabled, status.why_held, status.disabled_by) == (
        False, f"disabled by {WHO}: moving to the new server", WHO)
    with pytest.raises(ConfigError, match="enable it first"):
        engine.flush("mail")
    assert engine.enable("mail", by=WHO) is True
    assert engine.run_worker(once=True, wait=0).sent == 2
    assert [(e.outcome, e.text, e.info) for e in engine.log(account="mail")
            if e.outcome in ("disabled", "enabled")] == [
        ("enabled", "", {"by": WHO}), ("disabled", "moving to the new server", {"by": WHO})]


def test_enabled_false_in_the_config_holds_the_account(make_engine):
    engine = make_engine(texts={"enabled": False})
    (mid,) = engine.send("texts", to="07700 900123", text="hi")
    assert engine.run_worker(once=True, wait=0).sent == 0
    assert engine.store.find(mid).state == "queued"
    (status,) = engine.status("texts")
    assert (status.enabled, status.why_held) == (False,
                                                 "disabled in the config (enabled = false)")
    assert engine.enable("texts") is False  # the file decides
    assert not engine.status("texts")[0].enabled


def test_sent_today_counts_in_the_account_time_zone_and_from_a_reset(make_engine, clock):
    engine = make_engine({"schedule": {"daily_cap": 3, "timezone": "America/New_York"}})
    clock[0] = at("2026-03-04T04:00")  # 23:00 the day before in New York
    queue_mail(engine, 2)
    engine.run_worker(once=True, wait=0)
    clock[0] = at("2026-03-04T06:00")  # 01:00 in New York: a new day there
    assert engine.sent_today("mail").sent == 0
    queue_mail(engine, 5)
    assert engine.run_worker(once=True, wait=0).sent == 3
    counter = engine.sent_today("mail")
    assert (counter.sent, counter.cap, counter.reset, counter.short) == (3, 3, False, "3/3")
    clock[0] = at("2026-03-04T07:00")
    after = engine.reset_counter("mail", by=WHO)
    assert (after.sent, after.reset, after.since.timestamp()) == (0, True, clock[0])
    assert after.text.startswith("0 of 3 since the reset at 02:00")
    assert engine.run_worker(once=True, wait=0).sent == 2
    (note,) = engine.log(outcome="counter-reset")
    assert (note.text, note.info) == ("was 3 of 3", {"by": WHO})
    clock[0] = at("2026-03-05T05:00")  # midnight in New York: the reset is behind us
    counter = engine.sent_today("mail")
    assert (counter.sent, counter.reset) == (0, False)


def test_status_lists_every_configured_account(make_engine):
    engine = make_engine({"schedule": {"mode": "scheduled", "check_every": 15}})
    assert [(s.account, s.mode, s.enabled) for s in engine.status()] == [
        ("mail", "scheduled", True), ("texts", "immediate", True)]
    with pytest.raises(ConfigError, match="no account named 'post'"):
        engine.status("post")


def test_the_async_engine_has_the_operator_calls(make_engine):
    postroom = AsyncEngine(make_engine({"schedule": {"mode": "manual"}}))

    async def operate() -> tuple:
        await postroom.send("mail", to="ann@example.org", subject="s", text="t")
        switched = await postroom.disable("mail", "lunch", by=WHO)
        held = (await postroom.status("mail"))[0].why_held
        await postroom.enable("mail")
        flushed = await postroom.flush("mail")
        report = await postroom.run_worker(once=True, wait=0)
        counter = await postroom.reset_counter("mail")
        return switched, held, flushed, report.sent, counter, await postroom.sent_today("mail")

    switched, held, flushed, sent, counter, today = asyncio.run(operate())
    assert (switched, held, flushed, sent) == (True, f"disabled by {WHO}: lunch", 1, 1)
    assert counter.reset and today == counter
