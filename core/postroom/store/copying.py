"""Copying an SQLite outbox into PostgreSQL, for an office that outgrows one machine.

Every table both stores have is copied whole (queued, scheduled, in flight,
dead and sent messages, the delivery log, pauses, recurring sends, account
state, the inbox, opt-outs, mailbox keys seen, balances, workers' heartbeats),
rows in their order, with the columns both have, in one PostgreSQL transaction
(0/1 flags and JSON text become PostgreSQL's booleans and JSON): a copy that
fails leaves the target empty. The SQLite file is held under its write lock
meanwhile, so no worker or ``send`` changes it half-way; messages in flight
under a live lease refuse the copy, since their worker may be sending them
right now.
"""

from __future__ import annotations

from attrs import frozen

from postroom.errors import StoreError
from postroom.store.postgres import PostgresStore
from postroom.store.sqlite import SQLiteStore

CHUNK = 5000  # rows read from SQLite at a time
SKIPPED = {"schema_version", "sqlite_sequence"}  # each store keeps its own


@frozen
class Copied:
    """What ``copy_outbox`` copied: rows per table."""

    source: str
    target: str
    rows: dict[str, int]


def copy_outbox(source: SQLiteStore, target: PostgresStore, now: float) -> Copied:
    """Copy everything in ``source`` into ``target``, which must hold no messages.

    Raises ``StoreError`` while a worker holds a live lease on a message, or
    when the target has messages already.
    """
    copied: dict[str, int] = {}
    with source._write() as db, target._pool.connection() as conn, conn.cursor() as cur:
        held = db.execute("SELECT COUNT(*), MAX(lease_until) FROM outbox WHERE "
                          "state = 'inflight' AND lease_until > ?", (now,)).fetchone()
        if held[0]:
            raise StoreError(f"{held[0]} messages in {source.path} are in flight under a "
                             f"worker's lease (for up to {held[1] - now:.0f} s more): stop "
                             "every worker (SIGTERM lets it finish its batch), then copy again")
        there = cur.execute(f"SELECT COUNT(*) FROM {target._q}.outbox").fetchone()[0]
        if there:
            raise StoreError(f"the PostgreSQL outbox at {target.where} holds {there} messages "
                             "already: copy into an empty one (another --schema, or another "
                             "database)", usage=True)
        theirs = {}
        for table, column in cur.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = %s ORDER BY ordinal_position", (target.schema,)):
            theirs.setdefault(table, []).append(column)
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if name in theirs and name not in SKIPPED]
        for table in tables:
            ours = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            # seq is made again in PostgreSQL, in the same order.
            columns = [c for c in theirs[table] if c in ours and c != "seq"]
            rows = db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
            count = 0
            with cur.copy(f"COPY {target._q}.{table} ({', '.join(columns)}) FROM STDIN") as copy:
                while chunk := rows.fetchmany(CHUNK):
                    for row in chunk:
                        copy.write_row(row)
                    count += len(chunk)
            copied[table] = count
    return Copied(str(source.path), target.where, copied)
