"""The peer for the PostgreSQL outbox's enqueue: procrastinate deferring N jobs.

    python bench/procrastinate_peer.py [--count 100000] [--postgres URL]

procrastinate (a task queue on PostgreSQL) defers the same N jobs postroom
enqueues, each carrying what an SMS does (number and text), as fast as its API
allows: ``Task.batch_defer`` with 1,000 jobs a call, as postroom's enqueue takes
1,000 messages a commit. Its tables are made in a schema of its own (through
``search_path``) and dropped afterwards. Prints one JSON report.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import psycopg

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def defer(count: int, postgres: str, chunk: int = 1000) -> dict:
    import procrastinate

    schema = f"bench_procrastinate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    connector = procrastinate.SyncPsycopgConnector(
        conninfo=postgres, kwargs={"options": f"-c search_path={schema}"})
    app = procrastinate.App(connector=connector)

    @app.task(name="send_sms", queue="sms")
    def send_sms(to: str, text: str) -> None:  # deferred only; no worker runs here
        raise NotImplementedError

    try:
        with app.open():
            app.schema_manager.apply_schema()
            jobs = [{"to": f"+4477009{i % 100000:05d}",
                     "text": f"Member {i}: your membership renews on 1 March."}
                    for i in range(count)]
            started = time.perf_counter()
            for first in range(0, count, chunk):
                send_sms.batch_defer(*jobs[first:first + chunk])
            seconds = time.perf_counter() - started
            with psycopg.connect(postgres) as conn:
                stored = conn.execute(f'SELECT COUNT(*) FROM "{schema}".procrastinate_jobs'
                                      ).fetchone()[0]
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert stored == count, (stored, count)
    return {"phase": "procrastinate batch_defer", "count": count, "seconds": seconds,
            "per_second": count / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, metavar="URL")
    args = parser.parse_args()
    print(json.dumps(defer(args.count, args.postgres)))


if __name__ == "__main__":
    main()
