"""The office switches with real worker processes: manual sending and ``queue flush``,
``account disable`` and ``enable`` seen by two running workers, and archive copies
counted at a real SMTP server while two workers send.

To know that a worker has looked at a held account without sending it, the tests queue
a "marker" after the held messages: for the echo account a "send now" message, which
goes in the same claim as any held one that may go; for the other account a message of
an account the pass reaches after the held one (accounts are taken in name order).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import ECHO_PROJECT
from loopback.smtp import running_smtp

from postroom import EmailMessage, Engine

pytestmark = pytest.mark.timeout(120)
ARCHIVE = "records@example.org"


@pytest.fixture
def office(installed, tmp_path):
    """A config with two echo accounts, each recording what it accepted in a file."""
    installed("postroom-echo", {"echo": "postroom_echo"})

    def write(desk_schedule: str = "") -> Path:
        config = tmp_path / "postroom.toml"
        accounts = "".join(f"""
[accounts.{name}]
provider = "echo"
host = "echo.example.org"
sender = "{name}@example.org"
api_secret = "x"
record = "{name}.txt"
""" for name in ("desk", "zz_marker"))
        config.write_text(f"""
[store]
path = "outbox.db"
[delivery]
poll = 0.1
lease = 5
{accounts}
[accounts.desk.schedule]
{desk_schedule}
""")
        return config

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed.site), str(ECHO_PROJECT)])}
    return write, env, tmp_path


def postroom(config: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "postroom", "--config", str(config), *args],
                          env=env, capture_output=True, text=True, timeout=60)


def start_worker(config: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "postroom", "--config", str(config),
                             "worker"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        _, err = worker.communicate(timeout=30)
        # -SIGTERM: a worker still starting, before it took over the signal.
        assert worker.returncode in (0, -signal.SIGTERM), err


def accepted(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def wait_for(path: Path, ids: list[str], deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if set(ids) <= set(accepted(path)):
            return
        time.sleep(0.02)
    raise AssertionError(f"the workers did not send {len(ids)} messages in {deadline} s")


def send(config: Path, account: str, count: int, now: bool = False) -> list[str]:
    with Engine.from_file(config) as engine:
        return [engine.send(account, to=f"p{i}@example.org", subject=f"n{i}", text="x",
                            now=now)[0] for i in range(count)]


def test_a_manual_account_waits_for_a_flush_from_another_process(office):
    write, env, folder = office
    config = write('mode = "manual"')
    worker = start_worker(config, env)
    try:
        held = send(config, "desk", 5)
        marker = send(config, "desk", 1, now=True)  # "send now" goes at once, in manual too
        wait_for(folder / "desk.txt", marker)
        assert accepted(folder / "desk.txt") == marker
        flushed = postroom(config, env, "queue", "flush", "-a", "desk", "--no-send", "--json")
        assert flushed.returncode == 0, flushed.stderr
        assert '"flushed": 5' in flushed.stdout
        wait_for(folder / "desk.txt", held)
    finally:
        stop([worker])
    assert Counter(accepted(folder / "desk.txt")) == Counter(marker + held)
    with Engine.from_file(config) as engine:
        (note,) = engine.log(outcome="flushed")
        assert note.info["by"].endswith("(command line)")


def test_two_workers_keep_off_an_account_an_operator_disabled(office):
    write, env, folder = office
    config = write()
    switched = postroom(config, env, "account", "disable", "desk", "--reason", "new server")
    assert switched.returncode == 0, switched.stderr
    workers = [start_worker(config, env) for _ in range(2)]
    try:
        held = send(config, "desk", 10)
        marker = send(config, "zz_marker", 1)
        wait_for(folder / "zz_marker.txt", marker)
        assert accepted(folder / "desk.txt") == []
        listing = postroom(config, env, "queue")
        assert "held: disabled by" in listing.stdout and "new server" in listing.stdout
        assert postroom(config, env, "account", "enable", "desk").returncode == 0
        wait_for(folder / "desk.txt", held)
    finally:
        stop(workers)
    assert sorted(accepted(folder / "desk.txt")) == sorted(held)  # each once


def test_two_workers_send_one_archive_copy_per_message(tmp_path):
    with running_smtp() as server:
        config = tmp_path / "postroom.toml"
        config.write_text(f"""
archive_bcc = "{ARCHIVE}"
[store]
path = "outbox.db"
[delivery]
poll = 0.1
batch_size = 5
[accounts.office]
provider = "smtp"
host = "{server.host}"
port = {server.port}
security = "none"
sender_email = "desk@example.org"
""")
        with Engine.from_file(config) as engine:
            ids = [engine.send("office", EmailMessage(
                to=[f"a{i}@example.org", f"b{i}@example.org"], cc=f"c{i}@example.org",
                subject=f"Minutes {i}", text="Attached."))[0] for i in range(20)]
        workers = [start_worker(config, os.environ.copy()) for _ in range(2)]
        try:
            end = time.monotonic() + 60
            while len(server.received) < 20 and time.monotonic() < end:
                time.sleep(0.05)
        finally:
            stop(workers)
        received = list(server.received)
    assert len(received) == 20
    archived = Counter(r.recipients.count(ARCHIVE) for r in received)
    assert archived == Counter({1: 20})  # every message, once, whatever its recipients
    assert sorted(r.message()["Subject"] for r in received) == sorted(
        f"Minutes {i}" for i in range(20))
    assert not any(ARCHIVE.encode() in r.content for r in received)
    with Engine.from_file(config) as engine:
        assert {e.message_id for e in engine.log(outcome="accepted", limit=100)
                if e.info.get("archive copy") == ARCHIVE} == set(ids)
