"""Workers benchmark: 1, 2, 4 and 8 ``postroom worker`` processes on one outbox.

    python bench/workers.py [--count 2000] [--workers 1,2,4,8] [--delay 0.010]
                            [--rate 30] [--burst 10] [--limited-count 600] [--rounds 1]

The SMTP server (``smtp_sink.py --delay``) takes 10 ms over each message, as a
server doing work per message does, while it serves other sessions; it notes
the moment it took each one. For each number of workers, a fresh outbox of
``--count`` emails goes out through that many worker processes (``worker
--once``, batches of 20):

- **no limit**: the rate is (N - 1) / (last - first) at the server
  (target: 4 workers at least 3x one);
- **``per_second = --rate``, ``burst = --burst``**: the bucket lets ``burst``
  go at once and then one every 1 / rate seconds, so the rate is
  (N - burst) / (last - first), taken at the claims (the moments the store let
  each message go, from the outbox) and at the server (target: within 2 % of
  the limit, and never above it at the claims, which the store decides; the
  server sees each claim a delivery later, which shifts its span by the
  difference between the first and last message's delivery time). The most
  the server took in any one second is shown too.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sinks import SmtpSink

BATCH = 20  # small enough that the last batches leave no worker idle for long
DELAY = 0.010  # the server's time over each message
RATE, BURST = 30.0, 10  # the limited runs: well below what one worker sends, so it binds
LIMITED_TOLERANCE = 0.02  # the rate under a limit: within 2 % of it
SPEEDUP_TARGET = 3.0  # 4 workers against 1, no limit


def config(port: int, schedule: str = "", poll: float = 0.5) -> str:
    """A config of one account sending to ``port``, ``schedule`` the lines of its schedule."""
    limit = f"[accounts.mail.schedule]\n{schedule}\n" if schedule else ""
    return f"""
[store]
path = "outbox.db"
[delivery]
batch_size = {BATCH}
poll = {poll}
[accounts.mail]
provider = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
sender_email = "bench@example.org"
local_hostname = "bench.test"
timeout = 10
{limit}"""


def enqueue(path: Path, count: int) -> None:
    from postroom import EmailMessage, Engine

    with Engine.from_file(path) as engine:
        for first in range(0, count, 1000):
            engine.send("mail", *[EmailMessage(to=f"Member {i} <member{i}@example.org>",
                                               subject=f"Renewal {i}", text=f"Dear member {i}.")
                                  for i in range(first, min(first + 1000, count))])


def most_in(times: list[float], span: float = 1.0) -> int:
    """The most of the sorted moments ``times`` in any window of ``span`` seconds."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= span:
            first += 1
        most = max(most, last - first + 1)
    return most


def run(workers: int, count: int, delay: float, rate: float | None, burst: int) -> dict:
    """One run: a fresh outbox drained by ``workers`` processes; the server's view."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        times = folder / "times.txt"
        with SmtpSink(delay=delay, times=times) as sink:
            path = folder / "postroom.toml"
            path.write_text(config(sink.port, f"per_second = {rate}\nburst = {burst}"
                                   if rate else ""))
            enqueue(path, count)
            # Each worker logs a line a message: into a file, since a pipe read only
            # after the worker before it ends would fill and hold that worker up.
            logs = [folder / f"worker-{n}.log" for n in range(workers)]
            processes = []
            for log_path in logs:
                with log_path.open("wb") as log_file:
                    processes.append(subprocess.Popen(
                        [sys.executable, "-m", "postroom", "--config", str(path), "worker",
                         "--once"], stdout=subprocess.DEVNULL, stderr=log_file))
            for process, log_path in zip(processes, logs, strict=True):
                if process.wait(timeout=600) != 0:
                    raise RuntimeError(f"a worker failed:\n{log_path.read_text()[-2000:]}")
            if sink.count(count) != count:
                raise RuntimeError(f"the server took {sink.count()} messages of {count}")
            time.sleep(0.5)  # the sink writes its times after each session
        taken = sorted(float(line) for line in times.read_text().split())
        with sqlite3.connect(folder / "outbox.db") as db:
            claims = sorted(at for (at,) in db.execute("SELECT claimed_at FROM outbox"))
    if len(taken) != count:
        raise RuntimeError(f"the server noted {len(taken)} messages of {count}")
    beyond = (burst if rate else 1)  # what the first moment may take at once
    return {"workers": workers, "count": count, "limit": rate, "burst": burst if rate else None,
            "seconds": taken[-1] - taken[0], "rate": (count - beyond) / (taken[-1] - taken[0]),
            "claim_rate": (count - beyond) / (claims[-1] - claims[0]),
            "most_in_a_second": most_in(taken)}


def measure(counts: tuple[int, int], worker_counts: list[int], delay: float, rate: float,
            burst: int, rounds: int, log=lambda line: None) -> list[dict]:
    """Every number of workers, without a limit and with one; the median of ``rounds``."""
    results = []
    for limit, count in ((None, counts[0]), (rate, counts[1])):
        for workers in worker_counts:
            runs = []
            for _ in range(rounds):
                runs.append(run(workers, count, delay, limit, burst))
                log(f"  workers {workers}, "
                    + (f"per_second {limit:g}" if limit else "no limit")
                    + f": {runs[-1]['rate']:.1f}/s")
            best = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]
            results.append({**best, "rates": [r["rate"] for r in runs]})
    return results


def describe(results: list[dict], delay: float) -> tuple[str, list[str]]:
    """The Markdown table and the verdicts."""
    lines = [f"| workers, server {delay * 1000:g} ms a message | limit | messages | seconds "
             "| msg/s at the server | / one worker | / the limit, at the server | / the limit, "
             "at the claims | most in one second |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    single = {r["limit"]: r["rate"] for r in results if r["workers"] == 1}
    verdicts = []
    for r in results:
        limit = f"per_second {r['limit']:g}, burst {r['burst']}" if r["limit"] else "none"
        to_limit, claimed = ((f"{r['rate'] / r['limit']:.3f}",
                              f"{r['claim_rate'] / r['limit']:.3f}") if r["limit"] else ("-", "-"))
        lines.append(f"| {r['workers']} | {limit} | {r['count']:,} | {r['seconds']:.2f} | "
                     f"{r['rate']:.1f} | {r['rate'] / single[r['limit']]:.2f}x | {to_limit} "
                     f"| {claimed} | {r['most_in_a_second']} |")
        if r["limit"]:
            server, claims = r["rate"] / r["limit"], r["claim_rate"] / r["limit"]
            met = (1 - LIMITED_TOLERANCE <= claims <= 1
                   and abs(server - 1) <= LIMITED_TOLERANCE)
            verdicts.append(f"workers {r['workers']} under per_second {r['limit']:g}: "
                            f"{claims:.3f} of the limit at the claims, {server:.3f} at the "
                            f"server (target within {LIMITED_TOLERANCE:.0%}, never above at "
                            "the claims): " + ("met" if met else "MISSED"))
        elif r["workers"] == 4:
            speedup = r["rate"] / single[None]
            verdicts.append(f"4 workers without a limit: {speedup:.2f}x one worker (target "
                            f">= {SPEEDUP_TARGET:g}x): "
                            + ("met" if speedup >= SPEEDUP_TARGET else "MISSED"))
    return "\n".join(lines), verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--limited-count", type=int, default=600)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--delay", type=float, default=DELAY)
    parser.add_argument("--rate", type=float, default=RATE)
    parser.add_argument("--burst", type=int, default=BURST)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    results = measure((args.count, args.limited_count),
                      [int(w) for w in args.workers.split(",")], args.delay, args.rate,
                      args.burst, args.rounds,
                      log=lambda line: print(line, file=sys.stderr, flush=True))
    table, verdicts = describe(results, args.delay)
    print(table + "\n\n" + "\n".join(f"- {v}" for v in verdicts))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
