"""Storage faults: a lock held too long, writes that fail for a while, new files opened at
once; an outbox database that cannot be opened, changes under a running worker, or is
shared by two configurations.

A worker process keeps the results it has while the outbox cannot take them,
says so once, and writes them when it can: nothing is sent twice for want of
a record. ``send`` turns a fault into an error naming the file and what to
do, with nothing queued. Nothing is written into a file no worker reads, and
messages another configuration queued are neither sent under the wrong
sender nor killed by an account of the wrong channel.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import read_rows, store_toml
from hostile import outbox, run, run_process
from hostile import write_config as hostile_config
from loopback.smtp import EveryCommand, Stall, running_smtp
from loopback.workers import outputs, smtp_config, stop, wait_for, worker_processes

from postroom import EmailMessage, Engine
from postroom.errors import StoreError
from postroom.store import NewMessage, SQLiteStore
from postroom.worker.recording import STOP_GRACE

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


def test_a_worker_stopped_while_the_outbox_stays_locked_stops_and_names_what_may_go_again(
        tmp_path):
    with running_smtp(faults=[EveryCommand("DATA", Stall(0.1))]) as server:
        config = smtp_config(tmp_path / "postroom.toml", server.port,
                             store={"busy_timeout": 0.5},
                             delivery={"batch_size": 5, "lease": 2, "poll": 0.1})
        ids = enqueue(config)
        with worker_processes(config, tmp_path) as start:
            worker = start()
            wait_for(lambda: len(server.received) >= 3)
            holder = sqlite3.connect(tmp_path / "outbox.db", isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # held until the worker has gone
            try:
                time.sleep(1)
                worker.send_signal(signal.SIGTERM)
                code = worker.wait(timeout=STOP_GRACE + 20)  # it does not wait for ever
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            (text,) = outputs(tmp_path).values()
            assert code == 1, text  # 1: the outbox could not be used
            assert "Traceback" not in text
            unrecorded = re.search(r"stopping without recording the results of (\d+) messages"
                                   r".*?: ([0-9a-f, ]+); they were handed to the provider", text)
            assert unrecorded, text
            named = unrecorded.group(2).split(", ")
            assert len(named) == int(unrecorded.group(1)) and set(named) <= set(ids)
            time.sleep(2.5)  # the stopped worker's lease runs out
            again = start("--once")
            assert again.wait(timeout=60) == 0, outputs(tmp_path)
        received = Counter(m.postroom_id for m in server.received)
    assert set(received) == set(ids)  # nothing lost
    # Only the messages it named went twice.
    assert {mid for mid, n in received.items() if n > 1} <= set(named)


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



def queue_one(config: Path, account: str = "mail", to: str = "ann@example.org") -> None:
    code, said = run(config, "send", "-a", account, "--queue", "--to", to, "--text", "hi")
    assert code == 0, said


# --- a database that cannot be used -----------------------------------------------------------

def test_a_store_path_naming_a_folder_is_a_sentence(tmp_path):
    (tmp_path / "outbox").mkdir()
    config = hostile_config(tmp_path, '[store]\npath = "outbox"\n')
    for args in (["queue"], ["send", "-a", "mail", "--to", "ann@example.org", "--text", "x"]):
        code, said = run(config, *args)
        assert code == 2 and "Traceback" not in said
        assert f"the outbox database path {tmp_path / 'outbox'} is a folder, not a file" in said


def test_a_store_path_under_a_file_is_a_sentence(tmp_path):
    config = hostile_config(tmp_path, '[store]\npath = "postroom.toml/outbox.db"\n')
    code, said = run(config, "queue")
    assert code == 2 and f"{tmp_path / 'postroom.toml'} is a file, not a folder" in said


def test_a_file_that_is_not_a_database_is_left_alone(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    config = hostile_config(tmp_path, '[store]\npath = "notes.txt"\n')
    code, said = run(config, "send", "-a", "mail", "--queue", "--to", "ann@example.org",
                     "--text", "x", "--json")
    assert code == 2 and f"{notes} is not an SQLite database" in said
    assert notes.read_text() == "my notes\n"


@contextmanager
def read_only(path: Path):
    """``path`` unwritable even for root (immutable), or by mode for anyone else."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)],
                                                            check=False).returncode:
            pytest.skip("cannot make a file read-only for root here")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        yield


def test_a_read_only_database_is_a_sentence_and_nothing_is_queued(tmp_path):
    config = hostile_config(tmp_path)
    queue_one(config)
    before = outbox(tmp_path)
    with read_only(tmp_path / "postroom.db"):
        # A process of its own: SQLite hands a new connection a writable descriptor
        # it kept open for this process's earlier connections to the same file.
        code, said = run_process(tmp_path, "--config", str(config), "send", "-a", "mail",
                                 "--queue", "--to", "bo@example.org", "--text", "x")
        assert code == 1 and "Traceback" not in said, said  # 1: the outbox could not be used
        assert str(tmp_path / "postroom.db") in said and "may not be written" in said, said
        assert "give the user postroom runs as write access" in said, said
    assert outbox(tmp_path) == before


# --- a database that changes under a running process ------------------------------------------

def test_a_deleted_database_stops_the_store_instead_of_writing_a_ghost(tmp_path):
    path = tmp_path / "outbox.db"
    store = SQLiteStore(path)
    store.enqueue([NewMessage("mail", EmailMessage(to="ann@example.org", text="x"), 0.0)])
    path.unlink()
    with pytest.raises(StoreError, match="was deleted while postroom was running"):
        store.queue(0, 0)
    with pytest.raises(StoreError, match="was deleted"):
        store.enqueue([NewMessage("mail", EmailMessage(to="bo@example.org", text="x"), 0.0)])
    assert not path.exists()
    store.close()


def test_a_replaced_or_emptied_database_is_noticed(tmp_path):
    path = tmp_path / "outbox.db"
    store = SQLiteStore(path)
    other = SQLiteStore(tmp_path / "other.db")
    other.close()
    os.replace(tmp_path / "other.db", path)
    with pytest.raises(StoreError, match="was replaced by another file"):
        store.due_accounts(0)
    store.close()
    store = SQLiteStore(path)
    os.truncate(path, 0)
    with pytest.raises(StoreError, match="was emptied or overwritten"):
        store.next_due()
    store.close()


def holds(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux: its /proc fd links)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    except OSError:  # an fd closed while looking
        return False


@pytest.mark.parametrize("fault", ["deleted", "emptied"])
def test_a_running_worker_stops_with_a_sentence(tmp_path, fault):
    config = hostile_config(tmp_path, "[delivery]\npoll = 0.2\n")
    queue_one(config)
    run(config, "worker", "--once")
    db = tmp_path / "postroom.db"
    worker = subprocess.Popen([sys.executable, "-m", "postroom", "worker"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not holds(worker.pid, db):
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.05)
        time.sleep(0.5)
        if fault == "deleted":
            for file in tmp_path.glob("postroom.db*"):
                file.unlink()
        else:
            os.truncate(db, 0)
        said = worker.communicate(timeout=30)[0].decode()
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.communicate(timeout=30)
    assert worker.returncode == 1 and "Traceback" not in said
    assert f"the outbox database {db} was {fault}" in said
    if fault == "deleted":
        assert not db.exists()  # the worker left no fresh, empty file behind


# --- two configurations on one database -------------------------------------------------------

@pytest.fixture
def shared(tmp_path, store_settings):
    """Config A (mail sends as clinic-a) with a message queued, and config B beside it on
    the same database (of each store), its mail account as ``b_mail``."""
    store = store_toml(store_settings)
    a = hostile_config(tmp_path / "a", store, accounts="""
[accounts.mail]
provider = "email_file"
sender = "clinic-a@example.org"
""")
    queue_one(a)

    def config_b(mail: str) -> Path:
        return hostile_config(tmp_path / "b", store, accounts=f"[accounts.mail]\n{mail}\n")

    return a, config_b


def states(settings: dict) -> list[str]:
    return [state for (state,) in read_rows(settings, "SELECT state FROM {schema}outbox "
                                                      "ORDER BY seq")]


def test_another_config_does_not_send_the_messages_as_someone_else(shared, tmp_path,
                                                                    store_settings):
    a, config_b = shared
    b = config_b('provider = "email_file"\nsender = "clinic-b@example.org"')
    code, said = run(b, "worker", "--once")
    assert code == 2 and "Traceback" not in said
    assert ("accounts.mail: 1 message waits in this outbox, queued to go by email as "
            "clinic-a@example.org, but this configuration's mail sends email as "
            "clinic-b@example.org") in said
    assert "postroom store adopt mail" in said
    code, said = run(b, "send", "-a", "mail", "--queue", "--to", "bo@example.org",
                     "--text", "x")
    assert code == 2 and "accounts.mail: 1 message waits" in said
    assert states(store_settings) == ["queued"]
    assert not (tmp_path / "b" / "outbox").exists()  # B's provider wrote nothing
    # B can still look, and A sends its own.
    assert run(b, "queue")[0] == 0
    code, said = run(b, "store")
    assert "clinic-a@example.org" in said and "differs" in said
    assert run(a, "worker", "--once")[0] == 0
    assert states(store_settings) == ["sent"]
    # With nothing of A's waiting, the record follows B.
    queue_one(b)
    assert run(b, "worker", "--once")[0] == 0
    assert states(store_settings) == ["sent", "sent"]


def test_an_account_of_another_channel_does_not_kill_the_messages(shared, store_settings):
    _, config_b = shared
    b = config_b('provider = "sms_file"')
    code, said = run(b, "worker", "--once")
    assert code == 2 and "queued to go by email as clinic-a@example.org" in said
    assert "this configuration's mail sends sms" in said
    assert states(store_settings) == ["queued"]


def test_adopt_takes_the_waiting_messages_over_on_purpose(shared, tmp_path):
    _, config_b = shared
    b = config_b('provider = "email_file"\nsender = "clinic-b@example.org"')
    code, said = run(b, "store", "adopt", "mail")
    assert code == 0 and "mail: its messages now go by email as clinic-b@example.org" in said
    assert run(b, "worker", "--once")[0] == 0
    (sent,) = (tmp_path / "b" / "outbox" / "email").glob("*.eml")
    assert "From: clinic-b@example.org" in sent.read_text()
    code, said = run(b, "store", "adopt", "nope")
    assert code == 2 and "no usable account named 'nope'" in said


def test_a_store_made_before_owners_were_recorded_is_adopted_as_it_is(tmp_path):
    config = hostile_config(tmp_path)
    queue_one(config)
    with sqlite3.connect(tmp_path / "postroom.db") as db:
        db.execute("DROP TABLE store_accounts")
    assert run(config, "worker", "--once")[0] == 0
    assert [row[2] for row in outbox(tmp_path)] == ["sent"]
