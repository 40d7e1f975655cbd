"""Store faults: the outbox database cannot be opened or written, changes under a
running worker, or is shared by two configurations.

Each fault ends the command with exit 2 and a sentence naming the database
file and what to do; nothing is written into a file no worker reads, and
messages another configuration queued are neither sent under the wrong
sender nor killed by an account of the wrong channel.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hostile import outbox, run, write_config

from postroom.errors import StoreError
from postroom.messages import EmailMessage
from postroom.store import NewMessage, SQLiteStore

pytestmark = pytest.mark.timeout(120)


def queue_one(config: Path, account: str = "mail", to: str = "ann@example.org") -> None:
    code, said = run(config, "send", "-a", account, "--queue", "--to", to, "--text", "hi")
    assert code == 0, said


# --- a database that cannot be used -----------------------------------------------------------

def test_a_store_path_naming_a_folder_is_a_sentence(tmp_path):
    (tmp_path / "outbox").mkdir()
    config = write_config(tmp_path, '[store]\npath = "outbox"\n')
    for args in (["queue"], ["send", "-a", "mail", "--to", "ann@example.org", "--text", "x"]):
        code, said = run(config, *args)
        assert code == 2 and "Traceback" not in said
        assert f"the outbox database path {tmp_path / 'outbox'} is a folder, not a file" in said


def test_a_store_path_under_a_file_is_a_sentence(tmp_path):
    config = write_config(tmp_path, '[store]\npath = "postroom.toml/outbox.db"\n')
    code, said = run(config, "queue")
    assert code == 2 and f"{tmp_path / 'postroom.toml'} is a file, not a folder" in said


def test_a_file_that_is_not_a_database_is_left_alone(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    config = write_config(tmp_path, '[store]\npath = "notes.txt"\n')
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
    config = write_config(tmp_path)
    queue_one(config)
    before = outbox(tmp_path)
    with read_only(tmp_path / "postroom.db"):
        code, said = run(config, "send", "-a", "mail", "--queue", "--to", "bo@example.org",
                         "--text", "x")
        assert code == 2 and "Traceback" not in said
        assert f"cannot write to the outbox database {tmp_path / 'postroom.db'}" in said
        assert "read-only" in said
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
    config = write_config(tmp_path, "[delivery]\npoll = 0.2\n")
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
    assert worker.returncode == 2 and "Traceback" not in said
    assert f"the outbox database {db} was {fault}" in said
    if fault == "deleted":
        assert not db.exists()  # the worker left no fresh, empty file behind


# --- two configurations on one database -------------------------------------------------------

@pytest.fixture
def shared(tmp_path):
    """Config A (mail sends as clinic-a) with a message queued, and config B beside it on
    the same database, its mail account as ``b_mail``."""
    a = write_config(tmp_path / "a", '[store]\npath = "../outbox.db"\n', accounts="""
[accounts.mail]
provider = "email_file"
sender = "clinic-a@example.org"
""")
    queue_one(a)

    def config_b(mail: str) -> Path:
        return write_config(tmp_path / "b", '[store]\npath = "../outbox.db"\n',
                            accounts=f"[accounts.mail]\n{mail}\n")

    return a, config_b


def states(folder: Path) -> list[str]:
    return [row[2] for row in outbox(folder, "outbox.db")]


def test_another_config_does_not_send_the_messages_as_someone_else(shared, tmp_path):
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
    assert states(tmp_path) == ["queued"]
    assert not (tmp_path / "b" / "outbox").exists()  # B's provider wrote nothing
    # B can still look, and A sends its own.
    assert run(b, "queue")[0] == 0
    code, said = run(b, "store")
    assert "clinic-a@example.org" in said and "differs" in said
    assert run(a, "worker", "--once")[0] == 0
    assert states(tmp_path) == ["sent"]
    # With nothing of A's waiting, the record follows B.
    queue_one(b)
    assert run(b, "worker", "--once")[0] == 0
    assert states(tmp_path) == ["sent", "sent"]


def test_an_account_of_another_channel_does_not_kill_the_messages(shared, tmp_path):
    _, config_b = shared
    b = config_b('provider = "sms_file"')
    code, said = run(b, "worker", "--once")
    assert code == 2 and "queued to go by email as clinic-a@example.org" in said
    assert "this configuration's mail sends sms" in said
    assert states(tmp_path) == ["queued"]


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
    config = write_config(tmp_path)
    queue_one(config)
    with sqlite3.connect(tmp_path / "postroom.db") as db:
        db.execute("DROP TABLE store_accounts")
    assert run(config, "worker", "--once")[0] == 0
    assert [row[2] for row in outbox(tmp_path)] == ["sent"]
