"""Many ``postroom worker`` processes on one outbox keep each account's limits together.

One run per number of workers (1, 2, 4, 8): six accounts, each with one kind
of limit, send through one SMTP server on loopback that stamps the moment it
takes each message. The limits are checked where the provider would count
them, at the server; the per-second bucket also at the claims, which it
spaces. Nothing may be lost or sent twice. On each store.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import read_rows
from loopback.smtp import Received, running_smtp
from loopback.workers import outputs, smtp_config, stop, worker_processes

from postroom import EmailMessage, Engine

pytestmark = pytest.mark.timeout(180)

PER_MINUTE = 12
PER_HOUR = 8
DAILY_CAP = 10
GAP = 0.4
PER_SECOND, BURST = 5.0, 2
# Messages queued per account, and how many must have gone before the run stops.
QUEUED = {"minute": 30, "hour": 20, "daily": 25, "gap": 30, "stagger": 30, "second": 25}
AWAITED = {"minute": PER_MINUTE, "hour": PER_HOUR, "daily": DAILY_CAP, "gap": 8, "stagger": 8,
           "second": 25}


LIMITS = {"minute": {"per_minute": PER_MINUTE}, "hour": {"per_hour": PER_HOUR},
          "daily": {"daily_cap": DAILY_CAP},
          "gap": {"min_gap": GAP}, "stagger": {"stagger": GAP},
          "second": {"per_second": PER_SECOND, "burst": BURST}}


def enqueue(config: Path) -> None:
    with Engine.from_file(config) as engine:
        for name, count in QUEUED.items():
            engine.send(name, *[EmailMessage(to=f"r{i}@example.org", subject=f"{name} {i}",
                                             text="x") for i in range(count)])


def by_account(received: list[Received]) -> dict[str, list[Received]]:
    found: dict[str, list[Received]] = {name: [] for name in QUEUED}
    for message in received:
        found[message.mail_from.partition("@")[0]].append(message)
    return {name: sorted(messages, key=lambda m: m.at) for name, messages in found.items()}


def most_in_any_window(times: list[float], length: float) -> int:
    """The most of ``times`` inside any window ``[t, t + length)``."""
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u < t + length) for i, t in enumerate(times)),
               default=0)


@pytest.mark.parametrize("count", [1, 2, 4, pytest.param(8, marks=pytest.mark.slow)])
def test_workers_keep_every_accounts_limits_together(tmp_path, count, store_settings):
    with running_smtp() as server:
        config = smtp_config(tmp_path / "postroom.toml", server.port, accounts=LIMITS,
                             delivery={"batch_size": 10, "lease": 10, "poll": 0.2},
                             store=store_settings)
        enqueue(config)
        with worker_processes(config, tmp_path) as start:
            workers = [start() for _ in range(count)]
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                sent = Counter(m.mail_from.partition("@")[0] for m in server.received)
                if all(sent[name] >= awaited for name, awaited in AWAITED.items()):
                    break
                time.sleep(0.2)
            time.sleep(1.0)  # a moment more, for any message the limits should hold back
            assert stop(workers) == [0] * count, outputs(tmp_path)
        received = list(server.received)

    rows = read_rows(store_settings, "SELECT id, account, state, claimed_at FROM {schema}outbox")
    sent = {mid: (account, claimed) for mid, account, state, claimed in rows if state == "sent"}
    assert {state for *_, state, _ in rows} <= {"sent", "queued"}  # none left in flight
    # Nothing lost, nothing doubled: each message the server took once, and recorded sent.
    ids = Counter(m.postroom_id for m in received)
    assert set(ids) == set(sent) and set(ids.values()) == {1}
    accounts = by_account(received)
    assert {name: len(messages) for name, messages in accounts.items()} == {
        name: sum(1 for account, _ in sent.values() if account == name) for name in QUEUED}

    # per_minute and per_hour: the run lasts under a minute, so exactly the first
    # minute's (and hour's) worth went.
    assert len(accounts["minute"]) == PER_MINUTE
    assert len(accounts["hour"]) == PER_HOUR
    # daily_cap: exact, whatever the number of workers.
    assert len(accounts["daily"]) == DAILY_CAP
    # min_gap and stagger: every two messages at least the gap apart, at the server.
    for name in ("gap", "stagger"):
        arrivals = [m.at for m in accounts[name]]
        assert len(arrivals) >= AWAITED[name]
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        assert min(gaps) >= GAP, (name, min(gaps))
    # per_second: the bucket spaces the claims, at most BURST at once: in any window
    # of T seconds at most PER_SECOND * T + BURST claims...
    claims = [claimed for account, claimed in sent.values() if account == "second"]
    assert len(claims) == QUEUED["second"]
    for length in (0.25, 0.5, 1.0, 2.0, 4.0):
        assert most_in_any_window(claims, length) <= PER_SECOND * length + BURST, length
    # ... and at the server, later than its claim by the time it took to send it.
    by_id = {m.postroom_id: m.at for m in accounts["second"]}
    delay = max(by_id[mid] - claimed for mid, (account, claimed) in sent.items()
                if account == "second")
    arrivals = sorted(by_id.values())
    for length in (0.5, 1.0, 2.0):
        assert most_in_any_window(arrivals, length) <= PER_SECOND * (length + delay) + BURST
