"""Workers on several "hosts" sharing one PostgreSQL outbox: separate processes, each
with its own connections; one is SIGKILLed mid-batch, one loses its database
mid-batch behind a TCP proxy that is cut. Nothing is lost, only the batches in
flight at those moments may go twice, and the account's rate limit holds across
all of them, as the sink's clock sees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from conftest import ECHO_PROJECT, store_toml
from loopback.tcp_proxy import tcp_proxy

from postroom import Engine

BATCH = 10
COUNT = 300
LEASE = 3
RATE = 25  # per_second, with a burst of one batch: the 300 take at least 11.6 s
HANDOVER = 0.2  # seconds from a claim to the plugin's send, on a loaded machine
pytestmark = pytest.mark.timeout(120)


def through(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user
                                     else f"127.0.0.1:{port}"))


def write_config(folder: Path, name: str, store: dict) -> Path:
    """A worker's config: the echo account takes 30 ms a message and records what it
    accepted in ``accepted-NAME.txt`` (and when, in ``stamps-NAME.txt``)."""
    path = folder / f"{name}.toml"
    path.write_text(f"""
[delivery]
batch_size = {BATCH}
lease = {LEASE}
poll = 0.2
[accounts.desk]
provider = "echo"
host = "echo.example.org"
sender = "desk@example.org"
api_secret = "x"
delay = 0.03
record = "accepted-{name}.txt"
stamps = "stamps-{name}.txt"
[accounts.desk.schedule]
per_second = {RATE}
burst = {BATCH}
{store_toml(store)}""")
    return path


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def wait_until(check, what: str, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"waited {deadline} s for {what}")


def test_workers_on_two_hosts_survive_a_kill_and_a_lost_connection(
        installed, tmp_path, pg_store_settings):
    installed("postroom-echo", {"echo": "postroom_echo"})
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(installed.site), str(ECHO_PROJECT)])}
    url = pg_store_settings["url"]
    address = urlsplit(url)
    with tcp_proxy((address.hostname or "127.0.0.1", address.port or 5432)) as proxy:
        proxied = {**pg_store_settings, "url": through(url, proxy.port)}
        configs = {"a1": write_config(tmp_path, "a1", pg_store_settings),
                   "a2": write_config(tmp_path, "a2", pg_store_settings),
                   "b1": write_config(tmp_path, "b1", proxied),
                   "b2": write_config(tmp_path, "b2", pg_store_settings)}
        with Engine.from_file(configs["a1"]) as engine:
            ids = set(engine.send("desk", *[engine.message("desk", to=f"p{i}@example.org",
                                                           subject=f"n{i}", text="x")
                                            for i in range(COUNT)]))
        workers = {name: subprocess.Popen(
            [sys.executable, "-m", "postroom", "--config", str(path), "worker"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
            for name, path in configs.items()}
        try:
            # Host A loses a worker to kill -9 in the middle of a batch.
            wait_until(lambda: len(lines(tmp_path / "accepted-a2.txt")) >= BATCH // 2,
                       "a2 to be mid-batch")
            workers["a2"].send_signal(signal.SIGKILL)
            # Host B's first worker loses its link to the database mid-batch, long
            # enough for its lease to run out, then gets it back.
            wait_until(lambda: len(lines(tmp_path / "accepted-b1.txt")) >= BATCH // 2,
                       "b1 to be mid-batch")
            proxy.cut(refuse=True)
            time.sleep(LEASE + 1)
            proxy.restore()

            everything = [tmp_path / f"accepted-{name}.txt" for name in configs]
            wait_until(lambda: ids <= {mid for path in everything for mid in lines(path)},
                       "every message to be accepted")
            with Engine.from_file(configs["a1"]) as engine:
                wait_until(lambda: [(r.waiting, r.in_flight) for r in engine.queue()] == [(0, 0)],
                           "the outbox to record every message")
                (row,) = engine.queue()
                assert (row.sent, row.dead, row.scheduled) == (COUNT, 0, 0)
                logged = {e.message_id for e in engine.log(limit=10 * COUNT)}
                assert logged == ids
        finally:
            for worker in workers.values():
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            outputs = {name: worker.communicate(timeout=30) for name, worker in workers.items()}
    sent = Counter(mid for path in everything for mid in lines(path))
    assert set(sent) == ids  # nothing lost, nothing made up
    repeated = sum(n - 1 for n in sent.values())
    # Only the killed worker's batch and the cut-off worker's batch may have gone twice.
    twice = {name: sum(1 for mid in lines(tmp_path / f"accepted-{name}.txt") if sent[mid] > 1)
             for name in configs}
    assert repeated <= 2 * BATCH, (repeated, twice, outputs["b1"][1])
    assert proxy.cuts >= 1 and lines(tmp_path / "accepted-b2.txt")
    # The rate held across the four processes: in any span of s seconds at most
    # a burst plus s times the rate (a token bucket). The store spends tokens at
    # the claim, and a claimed message reaches the sink up to HANDOVER later, so
    # the sink may see a span of s hold the claims of s + HANDOVER.
    times = sorted(float(stamp) for name in configs
                   for stamp in lines(tmp_path / f"stamps-{name}.txt")[1::2])
    for first, start in enumerate(times):
        for span in (0.5, 1.0, 3.0):
            within = sum(1 for t in times[first:] if t < start + span)
            assert within <= BATCH + RATE * (span + HANDOVER), (span, within)
    # The cut-off worker outlived its outage (waiting for a connection, or keeping its
    # results in memory until the database answered): it stopped on SIGTERM like the others.
    for name in ("a1", "b1", "b2"):
        assert workers[name].returncode == 0, outputs[name][1]
