"""Real worker processes killed, stopped, outlived by a slow server and failed by their
plugin, on each store: nothing is lost, nothing is left half done, nothing is sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import ECHO_PROJECT, store_toml
from loopback.smtp import EveryCommand, Stall, running_smtp
from loopback.workers import outputs, smtp_config, stop, worker_processes

from postroom import EmailMessage, Engine

BATCH = 10
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def setup(installed, tmp_path, store_settings):
    """A config whose echo account takes 20 ms a message and records what it accepted,
    on each store."""
    installed("postroom-echo", {"echo": "postroom_echo"})
    config = tmp_path / "postroom.toml"
    config.write_text(f"""
{store_toml(store_settings)}
[delivery]
batch_size = {BATCH}
lease = 1
poll = 0.2
[accounts.desk]
provider = "echo"
host = "echo.example.org"
sender = "desk@example.org"
api_secret = "x"
delay = 0.02
record = "accepted.txt"
""")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed.site), str(ECHO_PROJECT)])}
    return config, env, tmp_path / "accepted.txt"


def enqueue(config: Path, count: int) -> list[str]:
    with Engine.from_file(config) as engine:
        return [engine.send("desk", to=f"p{i}@example.org", subject=f"n{i}", text="x")[0]
                for i in range(count)]


def start_worker(config: Path, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "postroom", "--config", str(config),
                             "worker", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_lines(path: Path, count: int, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"the worker did not accept {count} messages in {deadline} s")


@pytest.mark.parametrize("lanes", [1, 3])
def test_sigkill_mid_batch_loses_nothing_and_repeats_at_most_the_batch(setup, lanes):
    config, env, accepted = setup
    ids = enqueue(config, 60)
    worker = start_worker(config, env, "--concurrency", str(lanes))
    wait_for_lines(accepted, 25)  # somewhere inside the third batch (of each lane)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    time.sleep(1.2)  # let the dead worker's lease run out
    again = start_worker(config, env, "--once")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    sent = Counter(accepted.read_text().split())
    assert set(sent) == set(ids)  # every message went
    repeated = sum(n - 1 for n in sent.values())
    assert repeated <= BATCH * lanes  # only the batches in flight at the kill went twice
    with Engine.from_file(config) as engine:
        (row,) = engine.queue()
        assert (row.waiting, row.scheduled, row.in_flight, row.dead) == (0, 0, 0, 0)
        logged = Counter(e.message_id for e in engine.log(limit=1000))
        assert set(logged) == set(ids)


@pytest.mark.parametrize("lanes", [1, 3])
def test_sigterm_finishes_the_message_in_hand_and_gives_the_rest_back(setup, lanes):
    config, env, accepted = setup
    ids = enqueue(config, 60)
    worker = start_worker(config, env, "--concurrency", str(lanes))
    wait_for_lines(accepted, 5)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    done = accepted.read_text().split()
    assert 0 < len(done) < 60 and len(set(done)) == len(done)
    with Engine.from_file(config) as engine:
        (row,) = engine.queue()
        assert row.in_flight == 0
        assert row.sent == len(done)
        assert row.waiting == 60 - len(done)
        # What was given back was not tried: no log entry, no try counted.
        untried = [mid for mid in ids if mid not in done]
        assert all(engine.store.find(mid).attempts == 0 for mid in untried)
        assert {e.message_id for e in engine.log(limit=1000)} == set(done)


def test_two_workers_and_a_server_slower_than_the_lease_send_nothing_twice(tmp_path,
                                                                          store_settings):
    # Each message takes the server 0.25 s: a batch of 8 outlasts the 1 s lease twice
    # over, so only the renewed lease keeps the other worker off it.
    with running_smtp(faults=[EveryCommand("DATA", Stall(0.25))]) as server:
        config = smtp_config(tmp_path / "postroom.toml", server.port,
                             delivery={"batch_size": 8, "lease": 1, "poll": 0.1},
                             store=store_settings)
        with Engine.from_file(config) as engine:
            ids = engine.send("mail", *[EmailMessage(to=f"p{i}@example.org", subject=f"n{i}",
                                                     text="x") for i in range(24)])
        with worker_processes(config, tmp_path) as start:
            workers = [start(), start()]
            end = time.monotonic() + 60
            while len(server.received) < 24 and time.monotonic() < end:
                time.sleep(0.1)
            assert stop(workers) == [0, 0], outputs(tmp_path)
        received = Counter(m.postroom_id for m in server.received)
    assert set(received) == set(ids)
    assert set(received.values()) == {1}  # zero duplicates
    assert len({m.connection for m in server.received}) >= 2  # both workers took batches


def test_a_plugin_that_raises_keeps_what_it_sent_and_retries_only_the_rest(setup):
    config, env, accepted = setup
    config.write_text(config.read_text().replace("lease = 1", "lease = 30\nmax_attempts = 2\n"
                                                 "backoff = 0.1\nbackoff_max = 0.1\n"
                                                 "once_wait = 3"))
    with Engine.from_file(config) as engine:
        ids = engine.send("desk", *[EmailMessage(to="crash@example.org" if i == 4 else
                                                 f"p{i}@example.org", subject=f"n{i}",
                                                 text="x") for i in range(BATCH)])
    worker = start_worker(config, env, "--once")
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 1, err  # the crashing one failed for good
    assert "sent 9, dead 1, left 0" in out
    sent = Counter(accepted.read_text().split())
    # The first four went before the plugin fell over, exactly once; the five after
    # it went once, in a later batch.
    assert sent == Counter(ids[:4] + ids[5:])
    assert "the echo plugin (postroom-echo 1.0) raised while sending message 5 of a batch " \
           "of 10 for account desk" in err
    assert "RuntimeError: the echo plugin fell over" in err
    with Engine.from_file(config) as engine:
        tries = [(e.outcome, e.info.get("maybe_delivered")) for e in
                 reversed(engine.log(message_id=ids[4]))]
        assert tries == [("transient", "true"), ("dead", "true")]
        assert "the echo plugin (postroom-echo 1.0) failed: RuntimeError" in engine.log(
            message_id=ids[4])[0].text
        assert all(len(engine.log(message_id=mid)) == 1 for mid in ids[:4] + ids[5:])
