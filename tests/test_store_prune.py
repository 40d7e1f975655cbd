"""Pruning the outbox of finished messages, on each store: what goes, what always
stays, and ``postroom queue prune`` on an outbox with a history."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from click.testing import CliRunner
from conftest import Clock

from postroom import EmailMessage, Engine, MessageError
from postroom.cli import cli
from postroom.config import StoreSettings
from postroom.scheduling import Schedule
from postroom.secrets import Secret
from postroom.store import Disposition, LogEntry, NewMessage, SQLiteStore, Store, open_store, rows

DAY = 86400.0


def enqueue(store: Store, clock: Clock, at: float, *recipients: str,
            due: float = 0.0) -> list[str]:
    clock.now = at
    return store.enqueue([NewMessage("mail", EmailMessage(to=rcpt, subject="Hi", text="x"), due)
                          for rcpt in recipients])


def finish(store: Store, clock: Clock, at: float, count: int, state: str = "sent") -> list[str]:
    """Claim the ``count`` oldest due messages and record them as ``state`` at ``at``."""
    clock.now = at
    taken = store.claim("mail", Schedule(), limit=count, lease=300, worker="w1")
    ids = [claimed.message.id for claimed in taken.messages]
    store.record(taken.token, [Disposition(mid, state, at, at, error=None if state == "sent"
                                           else "550 no such user") for mid in ids])
    return ids


def test_prune_deletes_only_what_finished_before_the_time(open_stores, clock):
    store, = open_stores(clock=clock)
    sent, dead, in_flight, cancelled, cancelled_later = enqueue(
        store, clock, 1000.0, "sent@example.org", "dead@example.org", "held@example.org",
        "cancelled@example.org", "cancelled.later@example.org")
    scheduled, = enqueue(store, clock, 1000.0, "scheduled@example.org", due=9000.0)
    finish(store, clock, 1001.0, 1)
    finish(store, clock, 1002.0, 1, "dead")
    clock.now = 1003.0
    store.claim("mail", Schedule(), limit=1, lease=10**6, worker="w2")  # held, still sending
    store.cancel(1004.0, [cancelled, scheduled])
    store.cancel(1900.0, [cancelled_later])  # due long before the time, cancelled after it
    recent, = enqueue(store, clock, 1900.0, "recent@example.org")
    finish(store, clock, 1901.0, 1)
    waiting, = enqueue(store, clock, 100.0, "waiting@example.org")  # due before the time
    store.append_log([LogEntry(sent, 1001.0, "mail", "email_file", "sent@example.org", "Hi",
                               "accepted", 1)])

    assert store.prune(1500.0) == 4

    assert [store.find(mid) for mid in (sent, dead, cancelled, scheduled)] == [None] * 4
    assert {mid: store.find(mid).state for mid in (in_flight, cancelled_later, recent,
                                                   waiting)} == {
        in_flight: "inflight", cancelled_later: "cancelled", recent: "sent",
        waiting: "queued"}
    assert [e.message_id for e in store.log()] == [sent]  # the log keeps its entries
    assert store.prune(1500.0) == 0


def test_prune_goes_on_chunk_after_chunk(open_stores, clock, monkeypatch):
    monkeypatch.setattr(rows, "PRUNE_CHUNK", 2)
    store, = open_stores(clock=clock)
    enqueue(store, clock, 10.0, *(f"r{n}@example.org" for n in range(5)))
    finish(store, clock, 11.0, 5)
    kept, = enqueue(store, clock, 12.0, "kept@example.org")
    assert store.prune(100.0) == 5
    assert store.queue(100.0, 0.0)[0].waiting == 1
    assert store.find(kept).state == "queued"


def test_a_message_retried_while_the_prune_runs_stays_queued(pg_store_settings, clock,
                                                              tmp_path):
    """PostgreSQL: a dead message an operator is putting back in the queue, in a
    transaction not yet committed, is passed over, not deleted once it commits."""
    store = open_store(StoreSettings(tmp_path / "unused.db", url=Secret(pg_store_settings["url"]),
                                     schema=pg_store_settings["schema"]), clock)
    retried, gone = enqueue(store, clock, 10.0, "retried@example.org", "gone@example.org")
    finish(store, clock, 11.0, 2, "dead")
    with psycopg.connect(pg_store_settings["url"]) as retry:
        retry.execute(f'UPDATE "{pg_store_settings["schema"]}".outbox SET state = \'queued\' '
                      "WHERE id = %s", (retried,))
        pruned = []
        prune = threading.Thread(target=lambda: pruned.append(store.prune(100.0)))
        prune.start()
        prune.join(timeout=2)  # a prune that waited for the retry's lock is still here
        retry.commit()
        prune.join()
    assert pruned == [1]
    assert (store.find(retried).state, store.find(gone)) == ("queued", None)


def test_the_engine_keeps_the_last_two_days_the_limits_count(outbox_with_history):
    engine = Engine.from_file("postroom.toml")
    now = datetime.fromtimestamp(engine.clock(), UTC)
    with pytest.raises(MessageError) as refused:
        engine.prune(now - timedelta(days=6, hours=23))
    assert refused.value.field == "before"
    assert "give a time at least 7 days back, such as 90d" in str(refused.value)
    assert engine.prune(now - timedelta(days=7, minutes=1)) == 1
    engine.close()


def test_a_min_gap_longer_than_a_week_is_kept_too(outbox_with_history):
    slow = {"accounts": {"mail": {"provider": "email_file",
                                  "schedule": {"min_gap": 10.5 * DAY}}}}
    with Engine.from_dict(slow, base_dir=".") as engine, \
            pytest.raises(MessageError, match="less than 11 days ago"):
        engine.prune(datetime.fromtimestamp(engine.clock() - 9 * DAY, UTC))


@pytest.fixture
def outbox_with_history(tmp_path, monkeypatch):
    """A folder with a postroom.toml whose outbox holds a message sent ten days ago
    and one queued now."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "postroom.toml").write_text('[accounts.mail]\nprovider = "email_file"\n')
    clock = Clock()
    store = SQLiteStore(tmp_path / "postroom.db", clock=clock)
    old, = enqueue(store, clock, time.time() - 10 * DAY, "ann@example.org")
    finish(store, clock, clock.now + 1, 1)
    new, = enqueue(store, clock, time.time(), "bo@example.org")
    store.close()
    return old, new


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_command_prunes_and_the_log_says_so(outbox_with_history):
    old, new = outbox_with_history
    result = run("queue", "prune", "--before", "8d")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "deleted 1 finished messages from the outbox"
    store = SQLiteStore("postroom.db")
    assert (store.find(old), store.find(new).state) == (None, "queued")
    store.close()
    note, = json.loads(run("log", "--status", "pruned", "--json").output)
    assert note["text"].startswith("1 finished messages deleted")
    assert json.loads(run("queue", "prune", "--before", "8d", "--json").output) == {
        "deleted": 0}


@pytest.mark.parametrize(("before", "says"), [
    ("6d", "--before: "), ("yesterday", "--before: expected an ISO date")])
def test_the_command_refuses_a_time_too_recent_or_unreadable(outbox_with_history, before, says):
    result = run("queue", "prune", "--before", before)
    assert result.exit_code == 2
    assert says in result.output
    assert "deleted" not in result.output
    assert "deleted 1 " in run("queue", "prune", "--before", "8d").output  # it was kept


def test_the_command_needs_a_time(outbox_with_history):
    result = run("queue", "prune")
    assert result.exit_code == 2
    assert "--before" in result.output
