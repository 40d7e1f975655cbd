"""Storage faults: a lock held too long, writes that fail for a while, new files opened at once.

A worker process keeps the results it has while the outbox cannot take them,
says so once, and writes them when it can: nothing is sent twice for want of
a record. ``send`` turns a fault into an error naming the file and what to
do, with nothing queued.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from loopback.smtp import EveryCommand, Stall, running_smtp
from loopback.workers import outputs, smtp_config, stop, wait_for, worker_processes

from postroom import EmailMessage, Engine
from postroom.store import SQLiteStore

pytestmark = pytest.mark.timeout(120)

COUNT = 20


def write_config(path: Path, port: int, busy_timeout: float = 30) -> Path:
    return smtp_config(path, port, store={"busy_timeout": busy_timeout},
                       delivery={"batch_size": 5, "lease": 30, "poll": 0.1, "once_wait": 5})


def enqueue(config: Path) -> list[str]:
    with Engine.from_file(config) as engine:
        return engine.send("mail", *[EmailMessage(to=f"p{i}@example.org", subject=f"n{i}",
                                                  text="x") for i in range(COUNT)])


def sent_once(server, ids: list[str]) -> bool:
    received = Counter(m.postroom_id for m in server.received)
    return set(received) == set(ids) and set(received.values()) == {1}


def test_a_lock_held_past_the_busy_timeout_is_outlasted(tmp_path):
    with running_smtp(faults=[EveryCommand("DATA", Stall(0.1))]) as server:
        config = write_config(tmp_path / "postroom.toml", server.port, busy_timeout=0.5)
        ids = enqueue(config)
        with worker_processes(config, tmp_path) as start:
            worker = start()
            wait_for(lambda: len(server.received) >= 3)
            # Another process holds the write lock six times the busy timeout.
            holder = sqlite3.connect(tmp_path / "outbox.db", isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            time.sleep(3)
            during = len(server.received)
            holder.execute("ROLLBACK")
            holder.close()
            wait_for(lambda: len(server.received) >= COUNT)
            time.sleep(0.5)
            assert worker.poll() is None  # it lived through it
            assert stop([worker]) == [0]
        assert sent_once(server, ids)
    assert during < COUNT  # the lock held it back for a while
    (text,) = outputs(tmp_path).values()
    # One line when the outbox failed and one when it answered again; no traceback.
    assert text.count("cannot be used: another process held the database lock longer "
                      "than busy_timeout (0.5 s)") == 1, text
    assert text.count("answers again") == 1 and "Traceback" not in text
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        assert db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall() == [
            ("sent", COUNT)]


FAULTY_WORKER = '''
import sys
from postroom import Engine, StoreUnavailable

class FailingWrites:
    """The store, whose first writes of results fail as on a full disk."""

    def __init__(self, store, failures):
        self.store, self.failures = store, failures

    def __getattr__(self, name):
        return getattr(self.store, name)

    def record(self, token, dispositions, follow_ups=()):
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("full", "the test's outbox", "the disk is full",
                                   "free space on the disk")
        return self.store.record(token, dispositions, follow_ups)

loaded = Engine.from_file(sys.argv[1])
engine = Engine(loaded.config, loaded.registry, store=FailingWrites(loaded.store, 6))
print(engine.run_worker(once=True))
'''


def test_results_are_kept_while_writes_fail_and_written_when_they_work_again(tmp_path):
    with running_smtp() as server:
        config = write_config(tmp_path / "postroom.toml", server.port)
        ids = enqueue(config)
        script = tmp_path / "faulty_worker.py"
        script.write_text(FAULTY_WORKER)
        done = subprocess.run([sys.executable, str(script), str(config)], capture_output=True,
                              text=True, timeout=90)
        assert done.returncode == 0, done.stderr
        assert sent_once(server, ids)
    assert f"sent={COUNT}, dead=0, left=0" in done.stdout
    assert done.stderr.count("the disk is full") == 1, done.stderr
    assert done.stderr.count("answers again") == 1
    with Engine.from_file(config) as engine:
        (row,) = engine.queue()
        assert (row.sent, row.in_flight, row.waiting) == (COUNT, 0, 0)
        assert len(engine.log(limit=100)) == COUNT


@pytest.mark.parametrize("command", [["send", "-a", "mail", "--to", "a@example.org",
                                      "--text", "x"], ["queue"], ["worker", "--once"]])
def test_a_locked_outbox_is_an_error_saying_what_and_where_and_nothing_is_queued(tmp_path,
                                                                                command):
    config = tmp_path / "postroom.toml"
    config.write_text("""
[store]
busy_timeout = 0.3
[delivery]
once_wait = 1
[accounts.mail]
provider = "email_file"
""")
    SQLiteStore(tmp_path / "postroom.db").close()
    holder = sqlite3.connect(tmp_path / "postroom.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # not even a reader gets in
    try:
        done = subprocess.run([sys.executable, "-m", "postroom", "--config", str(config),
                               *command], capture_output=True, text=True, timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 1, done.stderr
    last = done.stderr.splitlines()[-1]  # a worker has said so in its log already
    assert last.startswith(f"error: the outbox at {tmp_path / 'postroom.db'} cannot be used: "
                           "another process held the database lock"), done.stderr
    assert "raise [store] busy_timeout" in done.stderr and "Traceback" not in done.stderr
    with Engine.from_file(config) as engine:
        assert engine.queue() == []


def test_connections_opening_a_new_outbox_at_once_all_succeed(tmp_path):
    """SQLite answers a concurrent switch to WAL "locked" at once; opening retries.

    Connections in threads lock the file as processes do (SQLite keeps the locks
    per file, not per process), and many rounds cost a second, not a minute.
    """
    failures = []
    for round_ in range(40):
        path = tmp_path / f"new-{round_}.db"
        barrier = threading.Barrier(6)

        def open_it(path=path, barrier=barrier):
            barrier.wait()
            try:
                SQLiteStore(path).close()
            except Exception as exc:  # collected for the assertion below
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []
