"""Account limits held across worker processes: each limit with 1, 4 and 8 workers.

    python bench/limits.py [--workers 1,4,8]
                           [--cases per_minute,daily_cap,min_gap,stagger,per_second]

Each case is one account's schedule, a fresh SQLite outbox holding more
messages than the limit lets go in the time given, and that many ``postroom
worker`` processes started together on it, stopped with SIGTERM when the time
is up (as systemd stops them). The SMTP sink (``smtp_sink.py --times``)
notes the moment it took each message; the table gives, from those
moments:

- ``per_minute = 60``, 70 s: the most taken in any 60 s (at most 60);
- ``daily_cap = 50``, 20 s: how many were taken (at most 50);
- ``min_gap = 1`` and ``stagger = 1``, 20 s: the smallest gap between two
  messages (at least 1 s, less the server's own jitter);
- ``per_second = 2``, 10 s: the smallest gap between two claims (the bucket
  spaces them 0.5 s apart; ``burst`` is 1).

Gaps are given at the claims (``claimed_at`` in the outbox: when the store let
each message go, which is what the limits decide) and at the server, which
sees each claim one delivery later, give or take a few milliseconds.

Every run also checks that nothing went twice: the server took exactly the
messages the outbox records as sent.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from attrs import frozen
from sinks import SmtpSink
from workers import config, enqueue, most_in


@frozen
class Case:
    name: str
    schedule: str  # the lines of [accounts.mail.schedule]
    seconds: float  # how long the workers run
    count: int  # messages queued: more than the limit lets go in that time
    bound: str  # what the limit allows, in the table's words


CASES = {
    "per_minute": Case("per_minute = 60", "per_minute = 60", 70, 200, "at most 60 in any 60 s"),
    "daily_cap": Case("daily_cap = 50", "daily_cap = 50", 20, 120, "at most 50"),
    "min_gap": Case("min_gap = 1", "min_gap = 1", 20, 60, "gaps of at least 1 s"),
    "stagger": Case("stagger = 1", "stagger = 1", 20, 60, "gaps of at least 1 s"),
    "per_second": Case("per_second = 2", "per_second = 2", 10, 120,
                       "one every 0.5 s (burst = 1)"),
}


def run(case: Case, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        times = folder / "times.txt"
        with SmtpSink(times=times) as sink:
            path = folder / "postroom.toml"
            path.write_text(config(sink.port, case.schedule, poll=0.2))
            enqueue(path, case.count)
            logs = [folder / f"worker-{n}.log" for n in range(workers)]
            processes = []
            for log_path in logs:  # a file each: a pipe nobody reads would hold a worker up
                with log_path.open("wb") as log_file:
                    processes.append(subprocess.Popen(
                        [sys.executable, "-m", "postroom", "--config", str(path), "worker"],
                        stdout=subprocess.DEVNULL, stderr=log_file))
            time.sleep(case.seconds)
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process, log_path in zip(processes, logs, strict=True):
                if process.wait(timeout=120) != 0:
                    raise RuntimeError(f"a worker failed:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.5)  # the sink reports, and writes its times, after each session
            taken = sink.count()
        moments = sorted(float(line) for line in times.read_text().split())
        with sqlite3.connect(folder / "outbox.db") as db:
            claims = sorted(at for (at,) in db.execute(
                "SELECT claimed_at FROM outbox WHERE state = 'sent'"))
    sent = len(claims)
    return {"case": case.name, "workers": workers, "seconds": case.seconds,
            "taken": taken, "sent": sent, "most_in_60s": most_in(moments, 60.0),
            "most_in_1s": most_in(moments), "smallest_gap": smallest_gap(moments),
            "smallest_claim_gap": smallest_gap(claims),
            "bound": case.bound}


def smallest_gap(moments: list[float]) -> float | None:
    return min((b - a for a, b in itertools.pairwise(moments)), default=None)


def describe(result: dict) -> str:
    def seconds(gap: float | None) -> str:
        return "-" if gap is None else f"{gap:.3f} s"

    return (f"| {result['case']} | {result['workers']} | {result['seconds']:g} s "
            f"| {result['taken']} | {result['most_in_60s']} | {result['most_in_1s']} "
            f"| {seconds(result['smallest_claim_gap'])} | {seconds(result['smallest_gap'])} "
            f"| {result['bound']} | {result['taken'] - result['sent']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    print("| limit | workers | ran | taken | most in 60 s | most in 1 s | smallest gap, claims "
          "| smallest gap, server | the limit allows | taken twice |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for name in args.cases.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            result = run(CASES[name], workers)
            if result["taken"] != result["sent"]:
                raise SystemExit(f"{result['case']}, {workers} workers: the server took "
                                 f"{result['taken']} messages, the outbox sent {result['sent']}")
            print(describe(result), flush=True)


if __name__ == "__main__":
    main()
