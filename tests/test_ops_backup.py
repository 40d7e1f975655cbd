"""postroom store backup while a worker process writes: every copy opens, passes its
integrity check and is consistent (each message sent has its log line)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from postroom import EmailMessage, Engine

pytestmark = pytest.mark.timeout(120)
COUNT = 600


@pytest.fixture
def setup(echo_processes):
    return echo_processes("""[delivery]
batch_size = 10
poll = 0.1
""", account='api_secret = "x"\ndelay = 0.005')


def postroom(config, env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "postroom", "--config", str(config), *args],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_backups_taken_while_a_worker_sends_are_whole_and_consistent(setup, tmp_path):
    config, env = setup
    with Engine.from_file(config) as engine:
        engine.send("desk", *[EmailMessage(to=f"p{i}@example.org", subject="n", text="x")
                              for i in range(COUNT)])
    worker = subprocess.Popen([sys.executable, "-m", "postroom", "--config", str(config),
                               "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    sent_in_copies = []
    try:
        for n in range(40):
            copy = tmp_path / f"backup-{n}.db"
            done = postroom(config, env, "store", "backup", str(copy), "--json")
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["messages"] == COUNT
            with sqlite3.connect(copy) as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
                states = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
                logged = db.execute("SELECT COUNT(*) FROM delivery_log "
                                    "WHERE outcome = 'accepted'").fetchone()[0]
            assert sum(states.values()) == COUNT
            assert logged == states.get("sent", 0)  # a try and its record, in one transaction
            sent_in_copies.append(states.get("sent", 0))
            if sent_in_copies[-1] == COUNT:
                break
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
    assert sent_in_copies == sorted(sent_in_copies)
    assert any(0 < sent < COUNT for sent in sent_in_copies), sent_in_copies  # mid-drain


def test_backup_refuses_the_outbox_itself_and_a_missing_folder(setup, tmp_path):
    config, env = setup
    itself = postroom(config, env, "store", "backup", str(tmp_path / "outbox.db"))
    missing = postroom(config, env, "store", "backup", str(tmp_path / "nowhere" / "copy.db"))
    assert (itself.returncode, missing.returncode) == (2, 2)
    assert "is the outbox itself" in itself.stderr and "no folder" in missing.stderr
    assert not list(tmp_path.glob(".*.partial"))
