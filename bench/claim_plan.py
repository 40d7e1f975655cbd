"""What an account's sending mode adds to each claim: the claim decision (``plan_claim``)
for an immediate, a scheduled and a manual account.

    python bench/claim_plan.py [--plans 2000] [--rounds 3]

The store makes this decision inside the claim's write transaction, so its
time is time the outbox's lock is held. A scheduled account works out its
last and next check (here every minute within weekday windows, and two
preset times); the others do not. Times are per decision, the median of the
rounds, at moments spread over a fortnight.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

from postroom.scheduling import Schedule, Usage, Window, parse_days
from postroom.store.accounting import plan_claim

LONDON = ZoneInfo("Europe/London")
OFFICE = (Window(parse_days("mon-fri"), clock(8), clock(17)),)
SCHEDULES = {
    "immediate": Schedule(OFFICE, LONDON, per_minute=30, daily_cap=500),
    "scheduled": Schedule(OFFICE, LONDON, per_minute=30, daily_cap=500, mode="scheduled",
                          check_every=timedelta(minutes=1), at=(clock(9), clock(13))),
    "manual": Schedule(OFFICE, LONDON, per_minute=30, daily_cap=500, mode="manual"),
}


def per_plan(schedule: Schedule, moments: list[float]) -> float:
    usage = Usage(today=120)
    start = time.perf_counter()
    for moment in moments:
        plan_claim(schedule, usage, moment, 100)
    return (time.perf_counter() - start) / len(moments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    first = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    moments = [first + i * 14 * 86400 / args.plans for i in range(args.plans)]
    times = {name: [] for name in SCHEDULES}
    for _ in range(args.rounds):
        for name, schedule in SCHEDULES.items():  # taking turns, round by round
            times[name].append(per_plan(schedule, moments))
    base = statistics.median(times["immediate"])
    print(f"{'mode':<10}{'µs per claim decision':>24}{'vs immediate':>14}")
    for name, found in times.items():
        median = statistics.median(found)
        print(f"{name:<10}{median * 1e6:>24.1f}{median / base:>14.1f}")


if __name__ == "__main__":
    main()
