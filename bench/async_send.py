"""What one send costs an app: ``Engine.send`` from sync code beside ``AsyncEngine.send``
from an async handler.

    python bench/async_send.py [--count 2000] [--rounds 3] [--durability full|normal]

Each round makes a fresh outbox (SQLite, ``durability = "full"``: a commit on
disk before ``send`` returns, as apps get by default; ``--durability normal``
leaves out the fsync, so the rest of the cost shows) and times ``count``
single-message sends three ways:

- ``sync``: ``engine.send(...)`` in a loop, as a sync view does;
- ``async, one at a time``: ``await postroom.send(...)`` in a loop, as one
  async handler does; the difference is the hop to a worker thread and back;
- ``async, 8 at a time``: eight handlers awaiting sends at once
  (``asyncio.gather``), as a busy async server does.

It prints the median microseconds per send over the rounds, and the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from postroom import AsyncEngine, Engine

CONCURRENCY = 8


DURABILITY = {"value": "full"}  # set from --durability


def config(folder: Path) -> dict:
    return {"region": "GB",
            "store": {"path": str(folder / "outbox.db"), "durability": DURABILITY["value"]},
            "accounts": {"texts": {"provider": "sms_file", "path": str(folder / "sms.jsonl")}}}


def number(i: int) -> str:
    return f"07911 {i % 1000000:06d}"


def sync_sends(engine: Engine, count: int) -> None:
    for i in range(count):
        engine.send("texts", to=number(i), text="Your table is booked.")


async def one_at_a_time(postroom: AsyncEngine, count: int) -> None:
    for i in range(count):
        await postroom.send("texts", to=number(i), text="Your table is booked.")


async def several_at_a_time(postroom: AsyncEngine, count: int) -> None:
    async def handler(start: int) -> None:
        for i in range(start, count, CONCURRENCY):
            await postroom.send("texts", to=number(i), text="Your table is booked.")

    await asyncio.gather(*(handler(start) for start in range(CONCURRENCY)))


def timed(run: Callable[[Engine], None]) -> float:
    """Seconds ``run`` takes on an engine over a fresh outbox."""
    with tempfile.TemporaryDirectory() as folder, Engine.from_dict(config(Path(folder))) as engine:
        engine.send("texts", to=number(0), text="warm up")  # opens the outbox
        start = time.perf_counter()
        run(engine)
        return time.perf_counter() - start


WAYS: dict[str, Callable[[int], Callable[[Engine], None]]] = {
    "sync: engine.send": lambda n: lambda engine: sync_sends(engine, n),
    "async, one at a time: await postroom.send": lambda n: lambda engine: asyncio.run(
        one_at_a_time(AsyncEngine(engine), n)),
    f"async, {CONCURRENCY} at a time (asyncio.gather)": lambda n: lambda engine: asyncio.run(
        several_at_a_time(AsyncEngine(engine), n)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--durability", choices=["full", "normal"], default="full",
                        help="normal: no fsync per commit, so the rest of the cost shows")
    args = parser.parse_args()
    DURABILITY["value"] = args.durability
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    for round_ in range(args.rounds):
        order = list(WAYS)[round_ % len(WAYS):] + list(WAYS)[:round_ % len(WAYS)]
        for way in order:
            times[way].append(timed(WAYS[way](args.count)) / args.count * 1e6)
    base = statistics.median(times["sync: engine.send"])
    print(f"| one send, durability {args.durability}, N = {args.count:,} ({args.rounds} rounds) "
          "| median µs | min-max µs "
          "| / sync |")
    print("|---|---:|---:|---:|")
    for way, values in times.items():
        median = statistics.median(values)
        print(f"| {way} | {median:,.0f} | {min(values):,.0f}-{max(values):,.0f} "
              f"| {median / base:.2f} |")


if __name__ == "__main__":
    main()
