"""A provider that is down or keeps throttling, met by real worker processes.

An SMTP server on loopback stops for a few seconds and starts again on its
port: the account pauses as a whole, one probe at a time across the workers,
with backoff, and once the server is back the backlog goes in full batches.
``worker --once`` against an SMS API that answers "throttled" to everything
stops after ``once_wait`` instead of looping for ever.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import read_rows
from loopback.certificates import write_ca_file
from loopback.nexmo_api import fake_nexmo
from loopback.ports import refused_port
from loopback.smtp import EveryCommand, RecordingHandler, Stall, running_smtp
from loopback.workers import outputs, smtp_config, stop, wait_for, worker_processes

from postroom import EmailMessage, Engine

pytestmark = pytest.mark.timeout(120)

BATCH = 10
COUNT = 80
PAUSE, PAUSE_MAX = 0.25, 1.0
OUTAGE = 4.0  # seconds the server is down


def write_config(path: Path, port: int, store: dict | None = None) -> Path:
    return smtp_config(path, port, delivery={
        "batch_size": BATCH, "lease": 30, "poll": 0.1, "backoff": 0.5, "backoff_max": 1,
        "unreachable_pause": PAUSE, "unreachable_pause_max": PAUSE_MAX}, store=store)


def test_an_outage_pauses_the_account_and_the_backlog_then_goes_in_full_batches(
        tmp_path, store_settings):
    port = refused_port()
    handler = RecordingHandler()  # one handler for both lives of the server: it keeps count
    config = write_config(tmp_path / "postroom.toml", port, store_settings)
    with Engine.from_file(config) as engine:
        ids = engine.send("mail", *[EmailMessage(to=f"p{i}@example.org", subject=f"n{i}",
                                                 text="x") for i in range(COUNT)])
    serve = {"port": port, "handler_factory": lambda *_: handler,
             "faults": [EveryCommand("DATA", Stall(0.02))]}
    with worker_processes(config, tmp_path) as start:
        with running_smtp(**serve):
            workers = [start(), start()]
            wait_for(lambda: len(handler.received) >= 15)
            down = time.time()  # the server stops as this block ends
        time.sleep(OUTAGE)
        before = len(handler.received)
        with running_smtp(**serve):
            up = time.time()
            wait_for(lambda: set(ids) <= received_ids(handler))
            assert stop(workers) == [0, 0], outputs(tmp_path)
    log = read_rows(store_settings,
                    "SELECT message_id, at, outcome, info FROM {schema}delivery_log")
    states = dict(read_rows(store_settings, "SELECT state, COUNT(*) FROM {schema}outbox "
                                            "GROUP BY state"))
    assert states == {"sent": COUNT}

    # Each batch that met the outage tried one connection and logged its first
    # message "unreachable"; the rest went back untried. With pauses of 0.25,
    # 0.5 and then 1 s between probes, and one probe at a time for both workers,
    # a 4 s outage costs the two batches under way when it began and about six
    # probes, not a connection attempt every poll as each message used to make.
    probes = [at for _, at, outcome, _ in log if outcome == "unreachable"]
    bound = 2 + 1 + len([s for s in (PAUSE, 2 * PAUSE) if s < PAUSE_MAX]) + OUTAGE / PAUSE_MAX
    assert 1 <= len(probes) <= bound, [at - down for at in probes]
    assert all(down <= at <= up + 1 for at in probes), [at - down for at in probes]

    # Back up, the backlog goes in full batches: one SMTP session a batch of ten.
    # Only the last batches of the two workers, and messages retried on their own
    # clock (a try that failed as the server went down), may come in fewer.
    after = Counter(m.connection for m in handler.received[before:])
    retried = {mid for mid, _, outcome, _ in log if outcome == "transient"}
    partial = [size for size in after.values() if size < BATCH]
    assert len(partial) <= 2 + len(retried), after
    assert sum(after.values()) - sum(partial) >= BATCH * 3

    # Nothing twice, but a message whose confirmation the outage cut off, which
    # the log marks "maybe delivered" and which goes again rather than be lost.
    maybe = {mid for mid, _, _, info in log
             if (json.loads(info) if isinstance(info, str) else info).get("maybe_delivered")}
    twice = {mid for mid, n in Counter(m.postroom_id for m in handler.received).items()
             if n > 1}
    assert twice <= maybe


def received_ids(handler: RecordingHandler) -> set[str]:
    return {m.postroom_id for m in handler.received}


def test_worker_once_stops_against_an_api_that_keeps_throttling(tmp_path, ca):
    ca_file = write_ca_file(ca, tmp_path / "ca.pem")
    with fake_nexmo(ca) as api:
        api.reject("+447700900123", "1")  # "Throttled", for every message, for ever
        config = tmp_path / "postroom.toml"
        config.write_text(f"""
region = "GB"
[store]
path = "outbox.db"
[delivery]
poll = 0.1
once_wait = 2
[accounts.texts]
provider = "nexmo"
api_key = "{api.api_key}"
api_secret = "{api.api_secret}"
sender = "Clinic"
base_url = "{api.url}"
ca_bundle = "{ca_file}"
""")
        with Engine.from_file(config) as engine:
            engine.send("texts", *[engine.message("texts", to="07700 900123", text=f"n{i}")
                                   for i in range(5)])
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "postroom", "--config", str(config),
                               "worker", "--once", "--json"], capture_output=True, text=True,
                              timeout=60)
        took = time.monotonic() - started
        requests = len(api.sms)
    assert done.returncode == 1, done.stderr  # messages were left unsent
    report = json.loads(done.stdout)
    assert (report["sent"], report["dead"], report["left"]) == (0, 0, 5)
    # It gave up after once_wait without progress; each throttle paused the account
    # (the API asks for a second), so it asked a few times, not hundreds.
    assert took < 30
    assert 1 <= requests <= 6
    assert "paused until" in done.stderr and "throttled" in done.stderr
