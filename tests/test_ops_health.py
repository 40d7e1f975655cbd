"""postroom health: real workers' heartbeats, a killed one, a paused account, an account
switched off, thresholds."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
import requests
from loopback.web import log_in, serving

from postroom import Credits, Engine
from postroom.errors import ConfigError
from postroom.health import AccountActivity, CreditReading, HealthSettings, WorkerSeen, assess
from postroom.probes import ProbeServer
from postroom.store import AccountPause, AccountState
from postroom.web import create_app

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def setup(echo_processes, store_settings):
    """Config and environment for worker processes, on each store in turn (the file's
    ``[store]`` table has the SQLite path; PostgreSQL's url and schema join it)."""
    server = "".join(f'{key} = "{value}"\n' for key, value in store_settings.items()
                     if key != "path")
    return echo_processes(server + """[delivery]
poll = 0.1
[health]
heartbeat = 0.2
stale_after = 1
[accounts.texts]
provider = "sms_file"
path = "sms.jsonl"
""")


def health(config, env) -> tuple[int, dict, str]:
    done = subprocess.run([sys.executable, "-m", "postroom", "--config", str(config), "health",
                           "--json"], env=env, capture_output=True, text=True, timeout=30,
                          check=False)
    text = subprocess.run([sys.executable, "-m", "postroom", "--config", str(config), "health"],
                          env=env, capture_output=True, text=True, timeout=30, check=False)
    assert text.returncode == done.returncode
    return done.returncode, json.loads(done.stdout), text.stdout


def start_worker(config, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "postroom", "--config", str(config),
                             "worker"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait_for_worker(config, pid: int) -> list[WorkerSeen]:
    """Every heartbeat, once the worker of ``pid`` has recorded its own."""
    end = time.monotonic() + 20
    with Engine.from_file(config) as engine:
        while time.monotonic() < end:
            found = engine.store.workers()
            if any(w.pid == pid for w in found):
                return found
            time.sleep(0.05)
    raise AssertionError(f"worker {pid} never recorded a heartbeat")


def test_a_killed_worker_and_a_long_pause_need_a_person(setup):
    config, env = setup
    worker = start_worker(config, env)
    (seen,) = wait_for_worker(config, worker.pid)
    assert seen.pid == worker.pid and seen.accounts == ()
    code, report, _ = health(config, env)
    assert code == 0 and report["ok"] and len(report["live"]) == 1

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    with Engine.from_file(config) as engine:
        engine.store.pause("texts", engine.clock() + 7200, "account_stopped: out of credit")
    time.sleep(1.3)  # longer than stale_after

    code, report, text = health(config, env)
    assert code == 1 and not report["ok"]
    assert [w["id"] for w in report["stale"]] == [seen.id] and report["live"] == []
    assert any(seen.id in p and "did not say it stopped" in p for p in report["problems"])
    assert any("account texts is paused" in p and "out of credit" in p
               for p in report["problems"])
    assert "needs a person:" in text and f"pid {worker.pid}" in text

    # A worker started on the same host forgets the one whose process is gone.
    again = start_worker(config, env)
    try:
        found = wait_for_worker(config, again.pid)
        assert [w.pid for w in found] == [again.pid]  # the killed one's is gone
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=20) == 0
    with Engine.from_file(config) as engine:
        assert engine.store.workers() == []  # a clean stop removes the heartbeat


def test_due_messages_with_no_worker_need_a_person_but_scheduled_ones_wait(setup):
    config, env = setup
    with Engine.from_file(config) as engine:
        engine.send("texts", to="+447700900123", text="hi")
    config.write_text(config.read_text().replace("stale_after = 1", "stale_after = 1\n"
                                                 "stalled_after = 0.5"))
    time.sleep(0.6)
    code, report, _ = health(config, env)
    assert code == 1
    assert any("1 message is queued and 0 workers are running" in p
               for p in report["problems"])
    assert any("account texts: 1 message is due" in p for p in report["problems"])
    (texts,) = report["accounts"]
    assert texts["due"] == 1 and texts["oldest_due_age"] >= 0.5


def seen(worker_id: str, at: float) -> WorkerSeen:
    return WorkerSeen(worker_id, "host-a", 100, at - 50, (), 3, 0, at)


def test_assess_judges_each_fact_against_its_threshold():
    now = 10_000.0
    settings = HealthSettings(stale_after=60, stalled_after=300, long_pause=600, max_dead=2,
                              expect_workers=1)
    calm = assess(settings, now, [seen("w1", now - 5)],
                  [AccountActivity("office", 10, 10, now - 1000, now - 10, 2)],
                  {"texts": AccountPause("texts", now + 60, "throttled: slow down")},
                  {"texts": CreditReading("texts", Decimal(9), "EUR", Decimal(5), now)},
                  may_send={"office"}, switched_off={})
    assert calm.ok, calm.problems  # a worker took some recently; a short pause; 2 dead allowed

    worried = assess(settings, now, [seen("w1", now - 61)],
                     [AccountActivity("office", 10, 10, now - 1000, now - 400, 3)],
                     {"texts": AccountPause("texts", now + 601, "account_stopped: quota")},
                     {"texts": CreditReading("texts", Decimal(4), "EUR", Decimal(5), now)},
                     may_send={"office"}, switched_off={})
    assert len(worried.problems) == 6, worried.problems
    assert [w.id for w in worried.stale] == ["w1"]

    # The same due messages outside the account's window (may_send empty) wait by design.
    closed = assess(settings, now, [seen("w1", now)],
                    [AccountActivity("office", 10, 10, now - 1000, None, 0)], {}, {}, set(),
                    {})
    assert closed.ok

    # Switched off on purpose, with no worker at all: listed, and no one is called.
    off = AccountState(disabled_at=now - 5000, disabled_reason="provider migration",
                       disabled_by="Ann")
    idle = assess(settings, now, [], [AccountActivity("office", 10, 10, now - 1000, None, 0)],
                  {}, {}, {"office"}, {"office": off})
    assert idle.ok, idle.problems
    (office,) = idle.accounts
    assert (office.disabled_at, office.disabled_by, office.disabled_reason) == (
        now - 5000, "Ann", "provider migration")


def test_a_balance_read_is_kept_for_health(setup, echo):
    config, _ = setup
    with Engine.from_file(config) as engine:
        engine.config.accounts["desk"].config.balance = 1.0  # below its low_balance of 5
        balance = engine.credits("desk")
        assert balance == Credits(Decimal("1.0"), "EUR", Decimal("5.0"))
        report = engine.health()
    assert not report.ok
    assert any("the balance is 1.0 EUR, below 5.0" in p for p in report.problems)


def test_an_account_switched_off_is_listed_everywhere_but_needs_no_person(setup, echo):
    config, env = setup
    config.write_text(config.read_text().replace("stale_after = 1", "stale_after = 1\n"
                                                 "stalled_after = 0.5"))
    with Engine.from_file(config) as engine:
        engine.send("texts", to="+447700900123", text="hi")
        assert engine.disable("texts", "provider migration", by="Ann (web, 127.0.0.1)")
        switched = engine.store.account_states()["texts"].disabled_at
        time.sleep(0.6)  # longer than stalled_after: its due message waits by design
        report = engine.health()
        assert report.ok, report.problems
        (texts,) = [a for a in report.accounts if a.account == "texts"]
        assert (texts.disabled_at, texts.disabled_by, texts.disabled_reason, texts.due) == (
            switched, "Ann (web, 127.0.0.1)", "provider migration", 1)

        code, data, text = health(config, env)
        assert code == 0 and data["ok"]
        (listed,) = [a for a in data["accounts"] if a["account"] == "texts"]
        assert listed["disabled_by"] == "Ann (web, 127.0.0.1)"
        assert listed["disabled_reason"] == "provider migration"
        assert listed["disabled_at"] == pytest.approx(switched)
        assert "switched off" in text and "by Ann (web, 127.0.0.1): provider migration" in text

        probes = ProbeServer("127.0.0.1", 0, engine.health, lambda: True)
        try:
            answer = requests.get(f"http://127.0.0.1:{probes.port}/health", timeout=10)
        finally:
            probes.close()
        assert answer.status_code == 200
        (probed,) = [a for a in answer.json()["accounts"] if a["account"] == "texts"]
        assert (probed["disabled_by"], probed["disabled_reason"]) == (
            "Ann (web, 127.0.0.1)", "provider migration")

        with serving(create_app(engine, password="health-page-4471")) as url:
            page = log_in(url, "health-page-4471").get(f"{url}/health", timeout=10)
        assert page.status_code == 200 and "Nothing needs a person" in page.text
        assert "by Ann (web, 127.0.0.1): provider migration" in page.text

        assert engine.enable("texts", by="Ann")
        assert all(a.disabled_at is None for a in engine.health().accounts)


def test_a_switch_off_without_a_name_or_a_reason_says_so_everywhere(setup, caplog):
    config, env = setup
    with caplog.at_level(logging.INFO), Engine.from_file(config) as engine:
        assert engine.disable("texts")
        (texts,) = [a for a in engine.health().accounts if a.account == "texts"]
        assert texts.switched_off_by == "by someone unnamed: no reason given"
        assert engine.enable("texts")
    said = [record.getMessage() for record in caplog.records]
    assert "account texts switched off by someone unnamed: no reason given" in said
    assert "account texts switched on by someone unnamed" in said
    with Engine.from_file(config) as engine:
        engine.disable("texts")
    _, _, text = health(config, env)
    assert "by someone unnamed: no reason given" in text


def test_an_account_off_in_the_config_is_listed_and_its_waiting_messages_need_no_person(setup):
    config, env = setup
    with Engine.from_file(config) as engine:
        engine.send("texts", to="+447700900123", text="hi")
    config.write_text(config.read_text().replace(
        "stale_after = 1", "stale_after = 1\nstalled_after = 0.5").replace(
        'path = "sms.jsonl"\n', 'path = "sms.jsonl"\nenabled = false\n'))
    time.sleep(0.6)  # longer than stalled_after: no worker sends for it, by design
    code, data, text = health(config, env)
    assert code == 0 and data["ok"], data["problems"]
    (texts,) = data["accounts"]
    assert (texts["off_in_config"], texts["due"], texts["disabled_at"]) == (True, 1, None)
    assert "off in the config (enabled = false)" in text

    with Engine.from_file(config) as engine, \
            serving(create_app(engine, password="health-page-4471")) as url:
        page = log_in(url, "health-page-4471").get(f"{url}/health", timeout=10)
    assert page.status_code == 200 and "Nothing needs a person" in page.text
    assert "off in the config (enabled = false)" in page.text


@pytest.mark.parametrize("key", ["expect_workers", "max_dead", "heartbeat", "stale_after",
                                 "forget_after", "stalled_after", "long_pause", "dead_within",
                                 "credits_every"])
def test_health_thresholds_below_zero_are_refused_naming_the_setting(key):
    with pytest.raises(ConfigError) as refused:
        Engine.from_dict({"store": {"path": ":memory:"}, "health": {key: -1}, "accounts": {
            "texts": {"provider": "sms_file", "path": "sms.jsonl"}}})
    assert f"health.{key}" in str(refused.value) and "-1" in str(refused.value)
