"""Real worker processes killed and stopped, on each store: nothing is lost, nothing is
left half done."""

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

from postroom import Engine

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


def test_sigkill_mid_batch_loses_nothing_and_repeats_at_most_the_batch(setup):
    config, env, accepted = setup
    ids = enqueue(config, 60)
    worker = start_worker(config, env)
    wait_for_lines(accepted, 25)  # somewhere inside the third batch
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    time.sleep(1.2)  # let the dead worker's lease run out
    again = start_worker(config, env, "--once")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    sent = Counter(accepted.read_text().split())
    assert set(sent) == set(ids)  # every message went
    repeated = sum(n - 1 for n in sent.values())
    assert repeated <= BATCH       # only the batch in flight at the kill went twice
    with Engine.from_file(config) as engine:
        (row,) = engine.queue()
        assert (row.waiting, row.scheduled, row.in_flight, row.dead) == (0, 0, 0, 0)
        logged = Counter(e.message_id for e in engine.log(limit=1000))
        assert set(logged) == set(ids)


def test_sigterm_finishes_the_message_in_hand_and_gives_the_rest_back(setup):
    config, env, accepted = setup
    ids = enqueue(config, 60)
    worker = start_worker(config, env)
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
