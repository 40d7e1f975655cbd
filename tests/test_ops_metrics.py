"""The metrics a scrape reads from the outbox (oldest due, pauses, balances, workers) and
the worker's batch and pause counters, on each store, against what the store holds.

``test_ops_worker_endpoints`` scrapes a real worker process over HTTP; this one
sets each state the gauges report, one at a time, and reads the registry."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import Clock
from prometheus_client import CollectorRegistry

from postroom import EmailMessage, Engine
from postroom.health import WorkerSeen
from postroom.metrics import StoreCollector, WorkerMetrics
from postroom.results import Credits

START = 1_800_000_000.0


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def engine(tmp_path, registry, echo_settings, clock, store_settings):
    data = {"region": "GB", "health": {"stale_after": 60},
            "accounts": {"desk": echo_settings, "texts": {"provider": "sms_file"}},
            "store": store_settings}
    with Engine.from_dict(data, base_dir=tmp_path, registry=registry,
                          environ={"ECHO_SECRET": "x"}, clock=clock) as made:
        yield made


@pytest.fixture
def scrape(engine, clock):
    """``scrape(name, **labels)``: one sample of a fresh scrape (None: not reported)."""
    metrics = CollectorRegistry()
    metrics.register(StoreCollector(engine.config, engine.store, clock))
    return lambda name, **labels: metrics.get_sample_value(name, labels)


def test_the_oldest_due_message_is_counted_from_when_it_fell_due(engine, clock, scrape):
    assert scrape("postroom_oldest_due_seconds", account="desk") is None  # an empty outbox
    engine.send("desk", EmailMessage(to="ann@example.org", subject="s", text="t"))
    clock.now += 90
    engine.send("desk", EmailMessage(to="bo@example.org", subject="s", text="t"))
    assert scrape("postroom_oldest_due_seconds", account="desk") == 90
    assert scrape("postroom_queue_messages", account="desk", state="waiting") == 2
    engine.run_worker(once=True, wait=0)
    assert scrape("postroom_oldest_due_seconds", account="desk") == 0


def test_a_pause_shows_while_it_lasts(engine, clock, scrape):
    engine.store.pause("desk", clock.now + 60, "the provider asked to slow down")
    assert scrape("postroom_account_paused", account="desk", kind="pause") == 1
    clock.now += 61
    assert scrape("postroom_account_paused", account="desk", kind="pause") is None


def test_the_last_balance_read_is_reported_in_its_unit(engine, clock, scrape):
    engine.store.note_credits("texts", Credits(Decimal("12.50"), "EUR"), clock.now)
    engine.store.note_credits("texts", Credits(Decimal("11.75"), "EUR"), clock.now + 1)
    assert scrape("postroom_credits_balance", account="texts", unit="EUR") == 11.75


def test_workers_are_live_until_their_heartbeat_is_older_than_stale_after(engine, clock,
                                                                          scrape):
    engine.store.beat(WorkerSeen("w1", "host-a", 101, clock.now))
    clock.now += 45
    engine.store.beat(WorkerSeen("w2", "host-b", 202, clock.now))
    assert (scrape("postroom_workers", state="live"), scrape("postroom_workers", state="stale")) \
        == (2, 0)
    clock.now += 30  # w1 last seen 75 s ago, w2 30 s ago
    assert (scrape("postroom_workers", state="live"), scrape("postroom_workers", state="stale")) \
        == (1, 1)


def test_the_worker_counts_its_batches_and_the_pauses_it_made(engine):
    metrics = CollectorRegistry()
    watcher = WorkerMetrics(metrics)
    engine.send("desk", *[EmailMessage(to=f"p{i}@example.org", subject="s", text="t")
                          for i in range(3)])
    engine.run_worker(once=True, wait=0, watchers=[watcher])
    engine.send("desk", EmailMessage(to="throttled@example.org", subject="s", text="t"))
    engine.run_worker(once=True, wait=0, watchers=[watcher])

    def count(name: str, **labels: str) -> float | None:
        return metrics.get_sample_value(name, labels)

    assert count("postroom_batches_total", account="desk") == 2
    assert count("postroom_messages_total", account="desk", state="sent") == 3
    assert count("postroom_account_pauses_total", account="desk", kind="paused") == 1
    assert count("postroom_attempts_total", account="desk", outcome="throttled") == 1
