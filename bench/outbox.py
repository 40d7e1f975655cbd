"""Outbox benchmark: enqueue N messages, then drain them through a file sink.

    python bench/outbox.py [--count 100000] [--sink email|sms] [--store sqlite|postgres]
                           [--workers 1] [--postgres URL]

Reports, each phase in a fresh process so one phase's memory does not colour
the other's:
- building the messages (address and number checks), per second;
- the outbox's enqueue of the built messages (durable commits of 1,000), per second;
- the worker's drain through the sink, per second, and its resident memory
  sampled every 50 ms (at start, peak, and the peaks of the first and last tenth);
  with ``--workers N`` above 1, N worker processes drain it together (time
  from the moment all are ready to the moment the last is done; no memory).

``--store postgres`` puts the outbox in a schema of its own in the database
``--postgres`` names (default: the test database of the project's machines),
dropped afterwards.

The ``email`` sink writes and fsyncs one ``.eml`` file per message; the ``sms``
sink appends a batch to one file with one fsync, so it shows the worker's own cost.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
CONFIG = """
region = "GB"
[delivery]
batch_size = 500
[accounts.email]
provider = "email_file"
sender = "bench@example.org"
[accounts.sms]
provider = "sms_file"
"""


def rss_mb() -> float:
    """This process's resident memory, in MiB (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20


def build(sink: str, count: int) -> list:
    """``count`` distinct messages for the sink's channel."""
    from postroom import EmailMessage, SmsMessage

    if sink == "sms":
        return [SmsMessage(to=f"07911 {i % 1000000:06d}", region="GB",
                           text=f"Member {i}: your membership renews on 1 March.")
                for i in range(count)]
    return [EmailMessage(to=f"Member {i} <member{i}@example.org>", subject=f"Renewal {i}",
                         text=f"Dear member {i}, your membership renews on 1 March.")
            for i in range(count)]


def enqueue(folder: Path, count: int, sink: str, chunk: int = 1000) -> dict:
    """Build the messages, then ``Engine.send`` them in chunks (a commit each)."""
    from postroom import Engine

    engine = Engine.from_file(folder / "postroom.toml")
    started = time.perf_counter()
    messages = build(sink, count)
    built = time.perf_counter()
    for first in range(0, count, chunk):
        engine.send(sink, *messages[first:first + chunk])
    done = time.perf_counter()
    return {"phase": "enqueue", "count": count, "build_per_second": count / (built - started),
            "seconds": done - built, "per_second": count / (done - built),
            "end_to_end_per_second": count / (done - started)}


def drain_together(folder: Path, count: int, sink: str, workers: int) -> dict:
    """``workers`` processes each running ``run_worker(once=True, wait=1)`` on one outbox,
    started together once every one has its engine and store open."""
    procs = [subprocess.Popen([sys.executable, __file__, "--phase", "worker", "--folder",
                               str(folder), "--count", str(count), "--sink", sink],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(workers)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    sent = [json.loads(proc.stdout.readline())["sent"] for proc in procs]
    seconds = time.perf_counter() - started
    for proc in procs:
        proc.wait()
    assert sum(sent) == count, sent
    return {"phase": f"drain, {workers} workers", "count": count, "seconds": seconds,
            "per_second": count / seconds, "sent_by_each": sent}


def worker(folder: Path, sink: str) -> None:
    """One of ``drain_together``'s workers: ready, then on "go" drain, then report."""
    from postroom import Engine

    engine = Engine.from_file(folder / "postroom.toml")
    engine.store  # noqa: B018  (opened before the clock starts)
    print("ready", flush=True)
    sys.stdin.readline()
    report = engine.run_worker(once=True, wait=1, accounts=[sink])
    print(json.dumps({"sent": report.sent}), flush=True)
    engine.close()


def drain(folder: Path, count: int, sink: str) -> dict:
    """``run_worker(once=True, wait=1)`` over the outbox, memory sampled meanwhile."""
    from postroom import Engine

    engine = Engine.from_file(folder / "postroom.toml")
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            samples.append(rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    start_rss = rss_mb()
    sampler.start()
    started = time.perf_counter()
    report = engine.run_worker(once=True, wait=1, accounts=[sink])
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    assert report.sent == count, report
    tenth = max(1, len(samples) // 10)
    return {"phase": "drain", "count": count, "seconds": seconds, "per_second": count / seconds,
            "rss_start_mb": start_rss, "rss_peak_mb": max(samples, default=start_rss),
            "rss_first_tenth_mb": max(samples[:tenth], default=start_rss),
            "rss_last_tenth_mb": max(samples[-tenth:], default=start_rss)}


@contextmanager
def outbox_config(store: str, postgres: str) -> Iterator[Path]:
    """A folder with a postroom.toml on a new, empty outbox of ``store``."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if store == "sqlite":
            (folder / "postroom.toml").write_text(CONFIG + '[store]\npath = "outbox.db"\n')
            yield folder
            return
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:12]}"
        (folder / "postroom.toml").write_text(
            CONFIG + f'[store]\nurl = "{postgres}"\nschema = "{schema}"\n')
        try:
            yield folder
        finally:
            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def measure(count: int, sink: str, store: str = "sqlite", workers: int = 1,
            postgres: str = DEFAULT_POSTGRES) -> list[dict]:
    """Both phases, each in a fresh process, on one new outbox; their reports."""
    with outbox_config(store, postgres) as folder:
        results = [run_phase("enqueue", folder, count, sink)]
        if workers == 1:
            results.append(run_phase("drain", folder, count, sink))
        else:
            results.append(drain_together(folder, count, sink, workers))
    return results


def run_phase(phase: str, folder: Path, count: int, sink: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--folder", str(folder),
                          "--count", str(count), "--sink", sink],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def describe(results: list[dict], count: int, sink: str) -> str:
    """The reports of ``measure`` as lines of text."""
    lines = [f"{sink} sink, {count} messages"]
    for r in results:
        line = (f"  {r['phase']:<8} {r['seconds']:6.1f} s = {r['per_second']:8.0f}/s")
        if "build_per_second" in r:
            line += (f" (building them: {r['build_per_second']:.0f}/s; both together "
                     f"{r['end_to_end_per_second']:.0f}/s)")
        if "rss_peak_mb" in r:
            line += (f"; worker memory {r['rss_start_mb']:.0f} MB at start, peak "
                     f"{r['rss_peak_mb']:.0f} MB (first tenth {r['rss_first_tenth_mb']:.0f}, "
                     f"last tenth {r['rss_last_tenth_mb']:.0f})")
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--sink", choices=["email", "sms"], default="email")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, metavar="URL")
    parser.add_argument("--phase", choices=["enqueue", "drain", "worker"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.phase == "worker":
        worker(args.folder, args.sink)
        return
    if args.phase:
        run = enqueue if args.phase == "enqueue" else drain
        print(json.dumps(run(args.folder, args.count, args.sink)))
        return
    results = measure(args.count, args.sink, args.store, args.workers, args.postgres)
    print(describe(results, args.count, f"{args.sink} ({args.store})"))


if __name__ == "__main__":
    main()
