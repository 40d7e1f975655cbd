"""Pruning a large outbox while a worker writes: how long ``postroom queue prune``
takes, and how long another connection's writes wait meanwhile.

    python bench/prune.py [--count 300000] [--store sqlite,postgres] [--postgres URL]

Fills a new outbox with ``--count`` SMS sent ten days ago (1,000 a commit), then
prunes everything finished before seven days ago, as
``postroom queue prune --before 7d`` does, while a thread with its own
connection appends one delivery-log entry every 10 ms, as a worker records its
results. Reports the prune's time and rate, and the slowest of those writes.
No peer: no queue library we compare with keeps sent messages to prune.
"""

from __future__ import annotations

import argparse
import threading
import time

from outbox import DEFAULT_POSTGRES, outbox_config

from postroom import Engine, SmsMessage
from postroom.scheduling import Schedule
from postroom.store import Disposition, LogEntry, NewMessage

DAY = 86400.0


def fill(engine: Engine, count: int) -> None:
    """``count`` messages sent ten days ago."""
    store = engine.store
    for start in range(0, count, 1000):
        store.enqueue([NewMessage("sms", SmsMessage(to="+447700900123", text=f"Reminder {n}"),
                                  0.0) for n in range(start, min(count, start + 1000))])
        taken = store.claim("sms", Schedule(), limit=1000, lease=300, worker="bench")
        at = engine.clock()
        store.record(taken.token, [Disposition(c.message.id, "sent", at, at)
                                   for c in taken.messages])


def measure(store: str, count: int, postgres: str) -> dict:
    with outbox_config(store, postgres) as folder:
        config = folder / "postroom.toml"
        with Engine.from_file(config, clock=lambda: time.time() - 10 * DAY) as past:
            fill(past, count)
        with Engine.from_file(config) as pruner, Engine.from_file(config) as worker:
            waits: list[float] = []
            stop = threading.Event()

            def write() -> None:
                while not stop.is_set():
                    began = time.perf_counter()
                    worker.store.append_log([LogEntry("bench", time.time(), "sms", "sms_file",
                                                      "+447700900123", "s", "accepted", 1)])
                    waits.append(time.perf_counter() - began)
                    time.sleep(0.010)

            writer = threading.Thread(target=write)
            writer.start()
            began = time.perf_counter()
            pruned = pruner.store.prune(time.time() - 7 * DAY)
            took = time.perf_counter() - began
            stop.set()
            writer.join()
        size = (folder / "outbox.db").stat().st_size if store == "sqlite" else None
    return {"store": store, "pruned": pruned, "seconds": took, "per_second": pruned / took,
            "writes": len(waits), "slowest_write_ms": max(waits) * 1000, "file_bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300_000)
    parser.add_argument("--store", default="sqlite,postgres")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    print("| store | pruned | seconds | per second | writes meanwhile | slowest write |")
    print("|---|---:|---:|---:|---:|---:|")
    for store in args.store.split(","):
        found = measure(store, args.count, args.postgres)
        print(f"| {store} | {found['pruned']:,} | {found['seconds']:.2f} | "
              f"{found['per_second']:,.0f} | {found['writes']} | "
              f"{found['slowest_write_ms']:.0f} ms |")


if __name__ == "__main__":
    main()
