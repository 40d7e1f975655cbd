"""A real worker process with --metrics-port and --health-port, scraped over HTTP while it
drains, its numbers checked against the delivery log and its JSON log lines."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from postroom import EmailMessage, Engine

pytestmark = pytest.mark.timeout(120)
SECRET = "echo-Api-Secret-7c1e99"
GOOD, GONE, FLAKY = 150, 6, 4  # accepted, refused for good, failing until they die


@pytest.fixture
def setup(echo_processes):
    return echo_processes("""[delivery]
batch_size = 20
poll = 0.1
max_attempts = 2
backoff = 0.1
backoff_max = 0.2
[health]
heartbeat = 0.5
""", account=f'api_secret = "{SECRET}"\ndelay = 0.01')


class Worker:
    """``postroom worker`` as a process; its JSON log lines read as they come."""

    def __init__(self, config: Path, env: dict, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "postroom", "--config", str(config), "--log-format", "json",
             "worker", "--health-port", "0", "--metrics-port", "0", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def records(self) -> list[dict]:
        return [json.loads(line) for line in list(self.lines)]

    def url(self, what: str) -> str:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            for record in self.records():
                if record.get("event") == "listening" and record["what"] == what:
                    return f"http://127.0.0.1:{record['port']}"
            time.sleep(0.02)
        raise AssertionError(f"the worker never said where it serves {what}: {self.lines}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        return code


def samples(url: str) -> dict[tuple[str, frozenset], float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def enqueue(config: Path) -> list[str]:
    people = ([f"p{i}@example.org" for i in range(GOOD)] + ["permanent@example.org"] * GONE
              + ["transient@example.org"] * FLAKY)
    with Engine.from_file(config) as engine:
        return engine.send("desk", *[EmailMessage(to=p, subject="n", text="x") for p in people])


def wait_until_drained(config: Path, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    with Engine.from_file(config) as engine:
        while time.monotonic() < end:
            (row,) = engine.queue()
            if not (row.waiting or row.scheduled or row.in_flight):
                return
            time.sleep(0.05)
    raise AssertionError("the worker did not drain the outbox in time")


def test_metrics_and_health_over_http_match_the_delivery_log(setup):
    config, env = setup
    ids = enqueue(config)
    worker = Worker(config, env)
    try:
        metrics, health = worker.url("metrics"), worker.url("health")
        # Mid-drain: what was counted so far is a part of it, and the queue adds up.
        end = time.monotonic() + 30
        while not value(during := samples(metrics), "postroom_attempts_total",
                        account="desk", outcome="accepted"):
            assert time.monotonic() < end, "no message counted while draining"
            time.sleep(0.02)
        queued = sum(value(during, "postroom_queue_messages", account="desk", state=state)
                     for state in ("waiting", "scheduled", "in_flight", "dead"))
        assert 0 < value(during, "postroom_messages_total", account="desk", state="sent") \
            <= GOOD
        assert queued + value(during, "postroom_messages_total", account="desk",
                              state="sent") >= len(ids) - 20  # a batch may be mid-record
        live = requests.get(f"{health}/live", timeout=10)
        assert (live.status_code, live.json()) == (200, {"alive": True})

        wait_until_drained(config)
        after = samples(metrics)
        answer = requests.get(f"{health}/health", timeout=10)
    finally:
        code = worker.stop()
    assert code == 0, worker.lines[-5:]

    with Engine.from_file(config) as engine:
        tries = Counter(e.outcome for e in engine.log(limit=10_000))
        dead = len(engine.store.dead())
        report = engine.health()
    assert tries == {"accepted": GOOD, "permanent": GONE, "transient": FLAKY, "dead": FLAKY}
    assert dead == GONE + FLAKY
    for outcome, count in (("accepted", GOOD), ("permanent", GONE),
                           ("transient", 2 * FLAKY)):  # a transient try that gave up logs "dead"
        assert value(after, "postroom_attempts_total", account="desk", outcome=outcome) == count
    assert value(after, "postroom_messages_total", account="desk", state="sent") == GOOD
    assert value(after, "postroom_messages_total", account="desk", state="dead") == dead
    assert value(after, "postroom_messages_total", account="desk", state="retry") == FLAKY
    assert value(after, "postroom_send_duration_seconds_count", provider="echo") == \
        sum(tries.values())
    assert value(after, "postroom_queue_messages", account="desk", state="dead") == dead
    assert value(after, "postroom_queue_messages", account="desk", state="waiting") == 0
    assert value(after, "postroom_workers", state="live") == 1

    # Messages failed for good: the health check says a person is needed, and why.
    assert answer.status_code == 503
    body = answer.json()
    assert body["ok"] is False and len(body["live"]) == 1
    assert any(f"{dead} messages failed for good" in p for p in body["problems"])
    # The worker stopped as asked: its heartbeat is gone, nobody is reported dead.
    assert (report.live, report.stale) == ([], [])

    # The JSON log: one line a record, an attempt event per try with its fields.
    records = worker.records()
    attempts = [r for r in records if r.get("event") == "attempt"]
    assert Counter(r["outcome"] for r in attempts) == {"accepted": GOOD, "permanent": GONE,
                                                       "transient": 2 * FLAKY}
    assert {r["message_id"] for r in attempts} == set(ids)
    for record in attempts:
        assert {"time", "level", "account", "message_id", "outcome", "provider_id",
                "duration", "batch"} <= record.keys()
        assert record["batch"] == ids.batch
        assert record["level"] == ("error" if record["state"] == "dead" else "info")
    assert all(r["provider_id"] for r in attempts if r["outcome"] == "accepted")
    assert any(r.get("event") == "batch" for r in records)
    assert any(r.get("event") == "batch_progress" and r["batch"] == ids.batch for r in records)
    assert not [line for line in worker.lines if SECRET in line]


def test_a_port_in_use_is_refused_before_sending(setup):
    config, env = setup
    with Engine.from_file(config) as engine:
        engine.send("desk", to="p@example.org", subject="n", text="x")
    worker = Worker(config, env)
    try:
        port = worker.url("health").rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "postroom", "--config", str(config), "worker",
             "--health-port", port], env=env, capture_output=True, text=True, timeout=30,
            check=False)
    finally:
        worker.stop()
    assert second.returncode == 2
    assert "cannot listen on 127.0.0.1" in second.stderr and "Traceback" not in second.stderr
