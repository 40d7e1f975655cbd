"""Bulk sends by batch id: given, returned, followed, cancelled, logged; queue --watch on a
terminal while a worker process drains the batch."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from conftest import read_rows, store_toml

from postroom import Engine, SmsMessage
from postroom.cli import cli
from postroom.errors import MessageError
from postroom.notifications import Contact
from postroom.store import SQLiteStore

pytestmark = pytest.mark.timeout(90)
CONFIG = """
region = "GB"
[store]
path = "postroom.db"
[delivery]
poll = 0.1
[templates]
directory = "templates"
[events.closed]
template = "closed"
channels = ["sms"]
[accounts.texts]
provider = "sms_file"
path = "sms.jsonl"
[accounts.texts.schedule]
per_second = 20
[accounts.mail]
provider = "email_file"
directory = "mail"
"""
STORE = '[store]\npath = "postroom.db"\n'


@pytest.fixture
def folder(tmp_path, monkeypatch, store_settings):
    """A project folder whose outbox is each store in turn."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "postroom.toml").write_text(
        CONFIG.replace(STORE, store_toml(store_settings)))
    (tmp_path / "templates" / "closed").mkdir(parents=True)
    (tmp_path / "templates" / "closed" / "sms.txt").write_text("We are closed today.")
    return tmp_path


@pytest.fixture
def engine(folder):
    with Engine.from_file(folder / "postroom.toml") as made:
        yield made


def numbers(count: int, start: int = 0) -> list[SmsMessage]:
    return [SmsMessage(to=f"07700 9{i:05d}", text="hi", region="GB")
            for i in range(start, start + count)]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_send_returns_the_ids_as_a_list_with_the_batch_id(engine):
    ids = engine.send("texts", *numbers(3))
    assert isinstance(ids, list) and len(ids) == 3 and ids.batch.startswith("b-")
    one = engine.send("texts", to="07700 900999", text="hi")
    assert one.batch is None  # a single message is no bulk send
    chosen = engine.send("texts", *numbers(2, 10), batch="march-newsletter")
    assert chosen.batch == "march-newsletter"
    again = engine.send("texts", *numbers(2, 20), idempotency_key="k-1")
    repeat = engine.send("texts", *numbers(2, 20), idempotency_key="k-1")
    assert (list(repeat), repeat.batch) == (list(again), again.batch)
    with pytest.raises(MessageError, match="batch"):
        engine.send("texts", *numbers(2, 30), batch="two words")
    found = engine.batch(ids.batch)
    assert (found.total, found.waiting, found.sent) == (3, 3, 0)
    assert {b.batch for b in engine.batches()} == {ids.batch, "march-newsletter", again.batch}


def test_notify_gives_its_messages_one_batch(engine):
    done = engine.notify("closed", [Contact(id=str(i), phone=f"07700 9000{i:02d}",
                                            channels="sms") for i in range(4)])
    assert len(done.queued) == 4 and done.batch.startswith("b-")
    assert engine.batch(done.batch).total == 4


def test_progress_counts_states_and_estimates_the_last_from_the_limits(engine,
                                                                       store_settings):
    ids = engine.send("texts", *numbers(100))
    engine.send("texts", *numbers(50, 200))  # another batch queued after it
    before = engine.batch(ids.batch)
    # 100 messages at 20 a second: the last goes about 5 s from now.
    assert before.finish - engine.clock() == pytest.approx(5, abs=1)
    engine.run_worker(once=True, accounts=["texts"], messages=ids[:40])
    engine.cancel(ids[40:50], reason="wrong list")
    found = engine.batch(ids.batch)
    assert (found.sent, found.cancelled, found.waiting, found.dead) == (40, 10, 50, 0)
    assert found.finish < before.finish + 1
    ((sent,),) = read_rows(store_settings, "SELECT COUNT(*) FROM {schema}outbox "
                           f"WHERE batch = '{ids.batch}' AND state = 'sent'")
    assert sent == 40
    logged = engine.log(batch=ids.batch, limit=1000)
    assert len(logged) == 50 and {e.outcome for e in logged} == {"accepted", "cancelled"}


def test_cli_shows_cancels_and_logs_a_batch(folder):
    sent = run("send", "-a", "texts", "--queue", "--to", "07700 900001", "--to", "07700 900002",
               "--to", "07700 900003", "--text", "hi", "--batch", "spring", "--json")
    rows = json.loads(sent.output)
    assert sent.exit_code == 0 and {row["batch"] for row in rows} == {"spring"}
    text = run("send", "-a", "texts", "--queue", "--to", "07700 900004", "--to", "07700 900005",
               "--text", "hi")
    assert re.search(r"batch b-[0-9a-f]{12}: follow it with `postroom queue --batch b-",
                     text.output)

    shown = run("queue", "--batch", "spring")
    assert shown.exit_code == 0
    assert "batch spring" in shown.output and "waiting 3" in shown.output
    assert "the last expected" in shown.output
    listing = run("queue")
    assert "bulk sends in progress" in listing.output and "  spring  0 sent" in listing.output
    assert run("queue", "--batch", "nope").exit_code == 2

    cancelled = run("queue", "cancel", "--batch", "spring", "--reason", "changed plans")
    assert cancelled.exit_code == 0 and "3 cancelled, 0 left" in cancelled.output
    data = json.loads(run("queue", "--batch", "spring", "--json").output)
    assert (data["cancelled"], data["waiting"], data["finish"]) == (3, 0, None)
    logged = json.loads(run("log", "--batch", "spring", "--json").output)
    assert [e["outcome"] for e in logged] == ["cancelled"] * 3
    assert all(e["text"] == "changed plans" for e in logged)
    both = run("queue", "cancel", rows[0]["id"], "--batch", "spring")
    assert both.exit_code == 2 and "not both" in both.output


def test_an_outbox_made_before_batches_is_upgraded_and_keeps_its_messages(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the outbox table as the previous release made it
        db.execute("""CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE, account TEXT NOT NULL, payload TEXT NOT NULL,
            recipient TEXT NOT NULL, summary TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'queued',
            not_before REAL NOT NULL, manual INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0, lease_until REAL, worker TEXT,
            idempotency_key TEXT UNIQUE, created REAL NOT NULL, sent_at REAL,
            provider_id TEXT, last_error TEXT, route TEXT, claim TEXT, claimed_at REAL)""")
        db.execute("CREATE TABLE account_pause (account TEXT PRIMARY KEY, until REAL NOT NULL, "
                   "reason TEXT NOT NULL)")
        db.execute("INSERT INTO outbox (id, account, payload, recipient, summary, not_before, "
                   "created) VALUES ('old-1', 'texts', '{}', '+447700900123', 'hi', 0, 0)")
    store = SQLiteStore(path, upgrade=True)  # as `postroom store upgrade` opens it
    try:
        assert store.find("old-1").state == "queued"
        (row,) = store.queue(time.time(), 0)
        assert row.waiting == 1
        assert store.batches(time.time()) == []  # its message belongs to no batch
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(outbox)")}
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert "batch" in columns and {"workers", "account_credits", "outbox_batch"} <= tables


def read_until(fd: int, pattern: str, deadline: float) -> str:
    """What the terminal showed until ``pattern`` appeared."""
    seen = ""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536).decode(errors="replace")
            except OSError:  # the other end closed
                break
            if re.search(pattern, seen):
                return seen
    raise AssertionError(f"{pattern!r} never showed; the terminal had: {seen[-2000:]!r}")


def test_queue_watch_redraws_a_terminal_while_a_worker_drains_the_batch(folder, engine):
    ids = engine.send("texts", *numbers(60))
    config = str(folder / "postroom.toml")
    main, secondary = pty.openpty()
    watcher = subprocess.Popen([sys.executable, "-m", "postroom", "--config", config, "queue",
                                "--batch", ids.batch, "--watch", "--interval", "0.2"],
                               stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    worker = None
    try:
        first = read_until(main, r"waiting 60", 30)
        assert "\x1b[2J" in first  # cleared and drawn again in place
        worker = subprocess.Popen([sys.executable, "-m", "postroom", "--config", config,
                                   "worker"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shown = read_until(main, r"sent 60, failed 0, waiting 0", 60)
        counts = [int(n) for n in re.findall(r"sent (\d+), failed", shown)]
        assert counts == sorted(counts) and any(0 < n < 60 for n in counts)  # seen mid-drain
        assert shown.count("\x1b[2J") >= 3
    finally:
        for process in (worker, watcher):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)
        os.close(main)
