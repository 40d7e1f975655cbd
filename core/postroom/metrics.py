"""Prometheus metrics for a worker (extra ``metrics``: the official ``prometheus_client``).

``postroom worker --metrics-port PORT`` serves them. Two kinds:

- what this worker did, counted as it goes (``WorkerMetrics``, a watcher of
  its events): ``postroom_messages_total{account,state}`` (sent, dead,
  retry), ``postroom_attempts_total{account,outcome}``,
  ``postroom_send_duration_seconds{provider}`` (a histogram),
  ``postroom_account_pauses_total{account,kind}``,
  ``postroom_batches_total{account}``; add them up over the workers;
- what the store holds, read at each scrape (``StoreCollector``), the same
  from every worker: ``postroom_queue_messages{account,state}``,
  ``postroom_oldest_due_seconds{account}``, ``postroom_account_paused{account,kind}``,
  ``postroom_credits_balance{account,unit}``, ``postroom_workers{state}``;
  take one worker's (``max``), not the sum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric

from postroom.worker.events import AccountChange, Attempt, BatchDone, Watcher

if TYPE_CHECKING:
    from postroom.config import Config
    from postroom.store import Store

# Seconds a plugin takes to hand one result over: an API call to an SMTP session's DATA.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
QUEUE_STATES = ("waiting", "scheduled", "in_flight", "dead", "cancelled")
STATES = {"sent": "sent", "dead": "dead", "queued": "retry"}


class WorkerMetrics(Watcher):
    """Counts this worker's tries, messages, batches and pauses."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter("postroom_messages", "Messages this worker finished (sent, "
                                "dead) or put back to try again (retry)",
                                ["account", "state"], registry=registry)
        self.attempts = Counter("postroom_attempts", "Tries by the provider's outcome",
                                ["account", "outcome"], registry=registry)
        self.duration = Histogram("postroom_send_duration_seconds", "Seconds the provider's "
                                  "plugin took to hand over one result", ["provider"],
                                  buckets=DURATION_BUCKETS, registry=registry)
        self.pauses = Counter("postroom_account_pauses", "Times this worker paused an account",
                              ["account", "kind"], registry=registry)
        self.batches = Counter("postroom_batches", "Claimed batches sent", ["account"],
                               registry=registry)

    def attempted(self, attempt: Attempt) -> None:
        self.attempts.labels(attempt.account, attempt.outcome).inc()
        self.messages.labels(attempt.account, STATES[attempt.state]).inc()
        self.duration.labels(attempt.provider).observe(attempt.duration)

    def batch_done(self, done: BatchDone) -> None:
        self.batches.labels(done.account).inc()

    def account_changed(self, change: AccountChange) -> None:
        if change.change in ("paused", "unreachable"):
            self.pauses.labels(change.account, change.change).inc()


class StoreCollector:
    """Reads the outbox at each scrape: queue depth, oldest due, pauses, balances, workers."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], float]) -> None:
        self.config = config
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        store = self.store
        queue = GaugeMetricFamily("postroom_queue_messages", "Messages in the outbox by state",
                                  labels=["account", "state"])
        for row in store.queue(now, now):
            for state in QUEUE_STATES:
                queue.add_metric([row.account, state], getattr(row, state))
        yield queue
        oldest = GaugeMetricFamily("postroom_oldest_due_seconds", "How long the oldest due "
                                   "message has waited (0: none due)", labels=["account"])
        for seen in store.activity(now, now):
            oldest.add_metric([seen.account], 0 if seen.oldest_due is None
                              else max(0.0, now - seen.oldest_due))
        yield oldest
        paused = GaugeMetricFamily("postroom_account_paused", "1 while the account is paused",
                                   labels=["account", "kind"])
        for pause in store.pauses(now).values():
            paused.add_metric([pause.account, pause.kind], 1)
        yield paused
        balance = GaugeMetricFamily("postroom_credits_balance", "The balance last read",
                                    labels=["account", "unit"])
        for reading in store.credit_readings().values():
            balance.add_metric([reading.account, reading.unit], float(reading.balance))
        yield balance
        stale_after = self.config.health.stale_after
        workers = GaugeMetricFamily("postroom_workers", "Workers by their heartbeat: live, or "
                                    "stale (stopped without saying so)", labels=["state"])
        seen = [now - w.seen <= stale_after for w in store.workers()]
        workers.add_metric(["live"], sum(seen))
        workers.add_metric(["stale"], len(seen) - sum(seen))
        yield workers


class MetricsServer:
    """The registry with both kinds, served on ``host``:``port`` until ``close``;
    ``watcher`` goes to the worker."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], float], host: str,
                 port: int) -> None:
        self.registry = CollectorRegistry()
        self.watcher = WorkerMetrics(self.registry)
        self.registry.register(StoreCollector(config, store, clock))
        self.server, self._thread = start_http_server(port, host, self.registry)
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
