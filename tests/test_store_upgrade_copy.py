"""``postroom store upgrade`` on an outbox an older release made (an SQLite file, a
PostgreSQL schema), the check at start that asks for it, and ``postroom store copy``
from SQLite into PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from conftest import store_toml

from postroom import Credits, EmailMessage, Engine
from postroom.cli import cli
from postroom.health import WorkerSeen
from postroom.scheduling import Schedule
from postroom.store import NewMessage, SQLiteStore
from postroom.store.interface import InboxEntry, OptOut
from postroom.store.rows import OUTBOX_COLUMNS, outbox_row

OLD_OUTBOX = Path(__file__).parent / "fixtures" / "outbox-0.1.0.sql"
# The old outbox's messages fall due from here; the worker runs a day later, when all are.
OLD_NOW = 1_800_000_000.0
# The copy test's outbox is a few years old: its leases ran out long before the copy.
PAST = 1_700_000_000.0
ACCOUNTS = """
region = "GB"
[delivery]
max_attempts = 1
[accounts.mail]
provider = "email_file"
[accounts.texts]
provider = "sms_file"
"""


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A folder with a postroom.toml on the SQLite file outbox.db."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "postroom.toml").write_text(ACCOUNTS + '[store]\npath = "outbox.db"\n')
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def old_outbox(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(OLD_OUTBOX.read_text())


def outbox_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM outbox ORDER BY seq").fetchall()


def test_an_old_outbox_is_refused_at_start_until_upgraded_then_sends_everything(folder):
    old_outbox(folder / "outbox.db")
    before = outbox_rows(folder / "outbox.db")
    started = subprocess.run([sys.executable, "-m", "postroom", "worker", "--once"],
                             capture_output=True, text=True, timeout=60, cwd=folder)
    assert started.returncode == 2, started.stderr
    assert "schema version 1 and this postroom needs" in started.stderr
    assert "run `postroom store upgrade`" in started.stderr
    assert "Traceback" not in started.stderr
    assert outbox_rows(folder / "outbox.db") == before  # refused, not touched

    result = run("store", "upgrade", "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    assert done["version"] == SQLiteStore(folder / "outbox.db").version
    assert done["applied"] and done["store"].endswith("outbox.db")
    assert "up to date" in run("store", "upgrade").output
    # Every message as it was, in the columns it had (new ones come after them).
    assert [row[:len(before[0])] for row in outbox_rows(folder / "outbox.db")] == before

    with Engine.from_file(folder / "postroom.toml", clock=lambda: OLD_NOW + 86400) as engine:
        # (The sent one went the day before: not "sent today".)
        assert {(r.account, r.waiting, r.dead, r.sent) for r in engine.queue()} == {
            ("mail", 2, 1, 0), ("texts", 1, 0, 0)}
        assert [e.outcome for e in engine.log()] == ["transient", "accepted", "permanent"]
        assert engine.store.pauses(OLD_NOW)["texts"].reason == "throttled: slow down"
        assert engine.run_worker(once=True, wait=0, accounts=["mail"]).sent == 2
    subjects = sorted(p.read_text().split("Subject: ")[1].split("\n")[0]
                      for p in (folder / "outbox" / "email").glob("*.eml"))
    assert subjects == ["Queued", "Scheduled"]


def test_an_old_postgresql_schema_is_refused_at_start_until_upgraded_then_sends_its_message(
        folder, postgres_url, pg_schema, pg_store_settings):
    from postroom.store.postgres_tables import STEPS

    oldest = STEPS[0]
    old = f'"{pg_schema}"'
    message = EmailMessage(to="ann@example.org", subject="Queued before", text="x")
    row = dict(zip(OUTBOX_COLUMNS, outbox_row(NewMessage("mail", message, OLD_NOW), OLD_NOW),
                   strict=True))
    with psycopg.connect(postgres_url) as conn:  # the tables of the oldest version only
        conn.execute(f"CREATE SCHEMA {old}")
        oldest.apply(lambda text: conn.execute(text.replace("{s}", old)))
        conn.execute(f"UPDATE {old}.schema_version SET version = %s", (oldest.version,))
        had = {name for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'outbox'", (pg_schema,))}
        columns = [name for name in OUTBOX_COLUMNS if name in had]
        conn.execute(f"INSERT INTO {old}.outbox ({', '.join(columns)}) VALUES "
                     f"({', '.join(['%s'] * len(columns))})", [row[name] for name in columns])
    assert len(columns) < len(OUTBOX_COLUMNS)  # a later version added some

    def version() -> int:
        with psycopg.connect(postgres_url) as conn:
            return conn.execute(f"SELECT version FROM {old}.schema_version").fetchone()[0]

    (folder / "postroom.toml").write_text(ACCOUNTS + store_toml(pg_store_settings))
    started = subprocess.run([sys.executable, "-m", "postroom", "worker", "--once"],
                             capture_output=True, text=True, timeout=60, cwd=folder)
    assert started.returncode == 2, started.stderr
    assert (f"schema version {oldest.version} and this postroom needs {STEPS[-1].version}"
            in started.stderr)
    assert "run `postroom store upgrade`" in started.stderr
    assert "Traceback" not in started.stderr
    assert version() == oldest.version  # refused, not touched

    result = run("store", "upgrade", "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    assert done["version"] == version() == STEPS[-1].version
    assert done["applied"] == [step.what for step in STEPS[1:]]
    assert "up to date" in run("store", "upgrade").output

    with Engine.from_file(folder / "postroom.toml", clock=lambda: OLD_NOW + 60) as engine:
        assert [(r.account, r.waiting) for r in engine.queue()] == [("mail", 1)]
        assert engine.run_worker(once=True, wait=0).sent == 1
        assert engine.store.find(message.id).state == "sent"
    (eml,) = (folder / "outbox" / "email").glob("*.eml")
    assert "Subject: Queued before" in eml.read_text()


def test_copy_moves_every_message_the_log_and_account_state_to_postgresql(
        folder, postgres_url, pg_schema, pg_store_settings):
    clock = [PAST]
    with Engine.from_file(folder / "postroom.toml", clock=lambda: clock[0]) as engine:
        # A message that failed for good: its one try found a file where the mail goes.
        blocker = folder / "outbox"
        blocker.write_text("a file where a folder should be")
        (dead,) = engine.send("mail", to="dee@example.org", subject="dead", text="x")
        assert engine.run_worker(once=True, wait=0, accounts=["mail"]).dead == 1
        blocker.unlink()
        ((_, _, dead_error),) = engine.store.dead()
        dead_log = engine.log(message_id=dead)
        assert dead_error and [e.outcome for e in dead_log] == ["dead"]
        (due,) = engine.send("mail", to="ann@example.org", subject="due", text="x")
        (later,) = engine.send("mail", to="bo@example.org", subject="later", text="x",
                               send_at=_at(PAST + 3600))
        (text,) = engine.send("texts", to="07700 900123", text="hello", idempotency_key="t1")
        (cancelled,) = engine.send("mail", to="cy@example.org", subject="cancelled", text="x")
        # A worker running now holds the oldest (due) under its lease.
        running = SQLiteStore(folder / "outbox.db")
        held = running.claim("mail", Schedule(), limit=1, lease=300, worker="running-worker")
        engine.store.pause("texts", PAST + 600, "throttled: slow down")
        # The office's server is down: its account backs off, shared by every worker.
        down = engine.store.claim("office", Schedule(), limit=1, lease=300, worker="w")
        engine.store.mark_unreachable("office", down.token, "connection refused", 30, 600)
        engine.cancel([cancelled], reason="wrong list")
        engine.store.set_recurring_last("morning", PAST)
        # What came in and what operators and workers noted.
        engine.store.set_opt_out(OptOut("sms", "+447700900555", True, PAST, "texts", "STOP"))
        engine.store.add_inbox([InboxEntry("in-1", PAST, "sms", "texts", "reply",
                                           "+447700900555", "+447700900000", "thanks",
                                           info={"keyword": None})], seen=[("mail", "uid-7")])
        engine.store.switch("office", False, "moving offices", "ops")
        engine.store.note_credits("texts", Credits(Decimal("12.50"), "GBP", Decimal("5")), PAST)
        engine.store.beat(WorkerSeen("w-1", "host-a", 4242, PAST, ("mail",), 3, 0, PAST))

        refused = run("store", "copy", "--to", postgres_url, "--schema", pg_schema)
        assert refused.exit_code == 1
        assert "1 messages in" in refused.output and "under a worker's lease" in refused.output
        with psycopg.connect(postgres_url) as conn:
            assert conn.execute(f'SELECT COUNT(*) FROM "{pg_schema}".outbox').fetchone() == (0,)

        running.release(held.token, [due])  # it stopped, as asked
        running.close()
        before_queue = engine.queue()
        before_log = engine.log()

    result = run("store", "copy", "--to", postgres_url, "--schema", pg_schema, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert (rows["outbox"], rows["delivery_log"], rows["account_pause"], rows["recurring"],
            rows["account_state"]) == (5, 2, 2, 1, 1)
    assert (rows["opt_out"], rows["inbox"], rows["mailbox_seen"], rows["account_credits"],
            rows["workers"]) == (1, 1, 1, 1, 1)
    again = run("store", "copy", "--to", postgres_url, "--schema", pg_schema)
    assert again.exit_code == 2 and "holds 5 messages already" in again.output

    later_clock = [PAST]
    moved = Engine.from_dict({**_accounts(), "store": pg_store_settings}, base_dir=folder,
                             environ={}, clock=lambda: later_clock[0])
    assert moved.queue() == before_queue
    assert moved.log() == before_log
    paused = moved.store.pauses(PAST)
    assert paused["texts"].reason == "throttled: slow down"
    assert (paused["office"].kind, paused["office"].until) == ("unreachable", PAST + 30)
    # The outage came along: a batch that was under way then does not stretch its pause.
    assert moved.store.mark_unreachable("office", "late-batch", "refused", 30, 600) is None
    assert moved.store.recurring_last("morning") == PAST
    assert moved.store.find(cancelled).state == "cancelled"
    assert moved.store.find(dead).state == "dead"
    assert moved.store.dead() == [(dead, "mail", dead_error)]
    assert moved.log(message_id=dead) == dead_log
    assert moved.store.opted_out("sms", "+447700900555").keyword == "STOP"
    assert [(e.id, e.text, e.info) for e in moved.store.inbox()] == [
        ("in-1", "thanks", {"keyword": None})]
    assert moved.store.seen_mail("mail") == {"uid-7"}
    assert moved.store.account_states()["office"].disabled_reason == "moving offices"
    assert moved.store.credit_readings()["texts"].balance == Decimal("12.50")
    assert [(w.id, w.pid, w.accounts) for w in moved.store.workers()] == [
        ("w-1", 4242, ("mail",))]
    assert moved.send("texts", to="07700 900123", text="hello", idempotency_key="t1") == [text]
    later_clock[0] = PAST + 7200
    assert moved.run_worker(once=True, wait=0, accounts=["mail"]).sent == 2
    assert {moved.store.find(mid).state for mid in (due, later)} == {"sent"}
    # The dead one goes again once retried on the PostgreSQL side, due from now.
    (folder / "moved.toml").write_text(ACCOUNTS + store_toml(pg_store_settings))
    retried = run("--config", "moved.toml", "queue", "retry", dead)
    assert retried.exit_code == 0, retried.output
    later_clock[0] = time.time() + 60
    assert moved.run_worker(once=True, wait=0, accounts=["mail"]).sent == 1
    assert moved.store.find(dead).state == "sent"
    assert any("To: dee@example.org" in eml.read_text()
               for eml in (folder / "outbox" / "email").glob("*.eml"))
    assert [e.outcome for e in moved.log(message_id=dead)] == ["accepted", "requeued", "dead"]


def _accounts() -> dict:
    import tomllib

    return tomllib.loads(ACCOUNTS)


def _at(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)
