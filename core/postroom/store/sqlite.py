"""``SQLiteStore``: the embedded outbox and delivery log in one SQLite file.

WAL mode lets workers and senders work side by side; with ``durability =
"full"`` (the default) a commit is on disk before ``enqueue`` returns, so a
message survives a kill -9 of any process and a power cut. Writes take the
database lock up front (``BEGIN IMMEDIATE``) so two workers never claim the
same message. The file and its owning configuration are checked as
``postroom.store.identity`` describes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from postroom.messages import Message
from postroom.store import payload
from postroom.store.identity import AccountIdentity, Owners, StoreFile, check_path, translated
from postroom.store.interface import (
    AccountPause,
    Claimed,
    Disposition,
    Handled,
    LogEntry,
    NewMessage,
    Note,
    QueueRow,
    StoredMessage,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    payload TEXT NOT NULL,
    recipient TEXT NOT NULL,
    summary TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',      -- queued | inflight | sent | dead | cancelled
    not_before REAL NOT NULL,
    manual INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,
    worker TEXT,
    idempotency_key TEXT UNIQUE,
    created REAL NOT NULL,
    sent_at REAL,
    provider_id TEXT,
    last_error TEXT,
    route TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (account, state, not_before);
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (account, sent_at) WHERE sent_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS delivery_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    at REAL NOT NULL,
    account TEXT NOT NULL,
    provider TEXT NOT NULL,
    recipient TEXT NOT NULL,
    summary TEXT NOT NULL,
    outcome TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    provider_id TEXT,
    code TEXT,
    text TEXT NOT NULL,
    cost TEXT,
    currency TEXT,
    info TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS log_at ON delivery_log (at);
CREATE INDEX IF NOT EXISTS log_message ON delivery_log (message_id);
CREATE TABLE IF NOT EXISTS account_pause (
    account TEXT PRIMARY KEY,
    until REAL NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recurring (
    name TEXT PRIMARY KEY,
    last REAL NOT NULL
);
"""

LOG_COLUMNS = ("message_id", "at", "account", "provider", "recipient", "summary", "outcome",
               "attempt", "provider_id", "code", "text", "cost", "currency", "info")

IN_CHUNK = 500  # values per IN (...) list, well under SQLite's limit on parameters


def _select_in(db: sqlite3.Connection, query: str, params: Sequence,
               values: Sequence[str]) -> list[tuple]:
    """The rows of ``query``, which ends in ``IN``, for ``values``, a chunk at a time;
    ``params`` fill the placeholders before the list."""
    rows = []
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start:start + IN_CHUNK]
        rows += db.execute(f"{query} ({','.join('?' * len(chunk))})",
                           (*params, *chunk)).fetchall()
    return rows


class SQLiteStore:
    """The ``Store`` on one SQLite file, created on first use.

    ``owners`` describes the accounts of the configuration using the store
    (see ``postroom.store.identity``); without it no account is checked.
    """

    def __init__(self, path: str | os.PathLike, durability: str = "full",
                 clock: Callable[[], float] = time.time,
                 owners: Mapping[str, AccountIdentity] | None = None) -> None:
        self.path = Path(path)
        self._clock = clock
        with translated(self.path):
            check_path(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection, shared by the threads of this process under a lock.
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                       check_same_thread=False)
            self._lock = threading.RLock()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            if "route" not in columns:  # an outbox made before failover routes existed
                self._db.execute("ALTER TABLE outbox ADD COLUMN route TEXT")
            self._file = StoreFile(self.path)
            self._owners = Owners(self._db, owners or {}, clock())

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, translated(self.path):
            self._file.check()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock, translated(self.path):
            self._file.check(header=False)
            return self._db.execute(sql, params).fetchall()

    def _insert(self, db: sqlite3.Connection, items: Sequence[NewMessage]) -> None:
        now = self._clock()
        rows = [(item.message.id, item.account, payload.dump(item.message),
                 ", ".join(item.message.recipients), item.message.summary, item.not_before,
                 int(item.manual), item.idempotency_key, now, item.route) for item in items]
        db.executemany(
            "INSERT INTO outbox (id, account, payload, recipient, summary, not_before, "
            "manual, idempotency_key, created, route) VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (idempotency_key) DO NOTHING", rows)

    def enqueue(self, items: Sequence[NewMessage]) -> list[str]:
        with self._write() as db:
            self._owners.check(db, [item.account for item in items], self._clock())
            self._insert(db, items)
            keyed = [item.idempotency_key for item in items if item.idempotency_key]
            earlier = dict(_select_in(
                db, "SELECT idempotency_key, id FROM outbox WHERE idempotency_key IN", (), keyed))
        return [earlier.get(item.idempotency_key, item.message.id) if item.idempotency_key
                else item.message.id for item in items]

    def due_accounts(self, now: float) -> list[str]:
        rows = self._read(
            "SELECT DISTINCT account FROM outbox WHERE (state = 'queued' AND not_before <= ?) "
            "OR (state = 'inflight' AND lease_until <= ?) ORDER BY account", (now, now))
        return [account for (account,) in rows]

    def next_due(self) -> float | None:
        return self._read("SELECT MIN(CASE state WHEN 'queued' THEN not_before "
                          "ELSE lease_until END) FROM outbox "
                          "WHERE state IN ('queued', 'inflight')")[0][0]

    def claim(self, account: str, now: float, limit: int, lease: float, worker: str,
              manual_only: bool = False) -> list[Claimed]:
        if limit <= 0:
            return []
        manual = "AND manual = 1" if manual_only else ""
        with self._write() as db:
            self._owners.check(db, [account], now)
            rows = db.execute(
                "UPDATE outbox SET state = 'inflight', lease_until = ?, worker = ? "
                "WHERE seq IN (SELECT seq FROM outbox WHERE account = ? "
                f"AND ((state = 'queued' AND not_before <= ?) OR (state = 'inflight' "
                f"AND lease_until <= ?)) {manual} ORDER BY manual DESC, not_before, seq LIMIT ?) "
                "RETURNING seq, payload, attempts, manual, route",
                (now + lease, worker, account, now, now, limit)).fetchall()
        rows.sort()
        return [Claimed(account, payload.load(text), attempts, bool(manual), route)
                for _, text, attempts, manual, route in rows]

    def finish(self, worker: str, dispositions: Sequence[Disposition],
               follow_ups: Sequence[NewMessage] = ()) -> None:
        now = self._clock()
        with self._write() as db:
            self._insert(db, follow_ups)
            for d in dispositions:
                if d.state == "sent":
                    # Sent wins even if the lease ran out meanwhile (and someone then
                    # cancelled the message): it did go. Other outcomes only count
                    # while this worker still holds the message, so they never
                    # bring back a message cancelled after its lease ran out.
                    db.execute("UPDATE outbox SET state = 'sent', sent_at = ?, provider_id = ?, "
                               "attempts = attempts + 1, lease_until = NULL, last_error = NULL "
                               "WHERE id = ? AND state != 'sent'",
                               (now, d.provider_id, d.message_id))
                else:
                    db.execute("UPDATE outbox SET state = ?, not_before = ?, "
                               "attempts = attempts + ?, lease_until = NULL, last_error = ?, "
                               "account = COALESCE(?, account) "
                               "WHERE id = ? AND state = 'inflight' AND worker = ?",
                               (d.state, d.not_before, int(d.counted), d.error, d.account,
                                d.message_id, worker))
            self._insert_log(db, [d.log for d in dispositions if d.log is not None])

    @staticmethod
    def _insert_log(db: sqlite3.Connection, entries: Sequence[LogEntry]) -> None:
        db.executemany(
            f"INSERT INTO delivery_log ({', '.join(LOG_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(LOG_COLUMNS))})",
            [(e.message_id, e.at, e.account, e.provider, e.recipient, e.summary, e.outcome,
              e.attempt, e.provider_id, e.code, e.text, e.cost, e.currency,
              json.dumps(e.info, ensure_ascii=False)) for e in entries])

    def append_log(self, entries: Sequence[LogEntry]) -> None:
        with self._write() as db:
            self._insert_log(db, entries)

    def find(self, message_id: str) -> StoredMessage | None:
        rows = self._read("SELECT id, account, recipient, summary, state, attempts, "
                          "provider_id FROM outbox WHERE id = ?", (message_id,))
        return StoredMessage(*rows[0]) if rows else None

    def release(self, worker: str, message_ids: Sequence[str]) -> None:
        with self._write() as db:
            db.executemany("UPDATE outbox SET state = 'queued', lease_until = NULL "
                           "WHERE id = ? AND state = 'inflight' AND worker = ?",
                           [(mid, worker) for mid in message_ids])

    def reroute(self, account: str, route: str, to_account: str) -> int:
        with self._write() as db:
            return db.execute("UPDATE outbox SET account = ? WHERE account = ? AND route = ? "
                              "AND state = 'queued'", (to_account, account, route)).rowcount

    def pending(self, account: str, skip_keys: Collection[str] = ()) -> list[Message]:
        # In-flight messages are left out: the provider may have charged them already.
        rows = self._read("SELECT idempotency_key, payload FROM outbox WHERE account = ? "
                          "AND state = 'queued' ORDER BY seq", (account,))
        skip = set(skip_keys)
        return [payload.load(text) for key, text in rows if key not in skip]

    def sent_times(self, account: str, since: float, newest: int | None = None) -> list[float]:
        rows = self._read("SELECT sent_at FROM outbox WHERE account = ? AND sent_at > ? "
                          "ORDER BY sent_at DESC LIMIT ?", (account, since, newest or -1))
        return [at for (at,) in reversed(rows)]

    def sent_count(self, account: str, since: float) -> int:
        return self._read("SELECT COUNT(*) FROM outbox WHERE account = ? AND sent_at >= ?",
                          (account, since))[0][0]

    def cancel(self, now: float, ids: Collection[str] = (), account: str | None = None,
               note: Note = None) -> list[Handled]:
        # The same test as claim's: what no worker holds may be cancelled.
        return self._change(
            ids, account, note,
            movable=("state = 'queued' OR (state = 'inflight' AND lease_until <= ?)", (now,)),
            reach="state IN ('queued', 'inflight')",
            update=("state = 'cancelled', lease_until = NULL, worker = NULL", ()))

    def requeue(self, now: float, ids: Collection[str] = (), account: str | None = None,
                note: Note = None) -> list[Handled]:
        return self._change(
            ids, account, note, movable=("state = 'dead'", ()), reach="state = 'dead'",
            update=("state = 'queued', not_before = ?, attempts = 0, last_error = NULL, "
                    "lease_until = NULL, worker = NULL", (now,)))

    def _change(self, ids: Collection[str], account: str | None, note: Note,
                movable: tuple[str, Sequence], reach: str,
                update: tuple[str, Sequence]) -> list[Handled]:
        """Apply ``update`` to the chosen messages that match ``movable``; log each.

        ``ids`` choose by id (those of another account than ``account`` are
        left); without them, ``account``'s messages matching ``reach``.
        """
        condition, condition_params = movable
        select = ("SELECT seq, id, account, recipient, summary, state, attempts, provider_id, "
                  f"({condition}) FROM outbox WHERE ")
        named = list(dict.fromkeys(ids))
        with self._write() as db:
            if named:
                rows = _select_in(db, f"{select}id IN", condition_params, named)
            else:
                rows = db.execute(f"{select}account = ? AND ({reach}) ORDER BY seq",
                                  (*condition_params, account)).fetchall()
            chosen = [row for row in rows if row[-1] and account in (None, row[2])]
            changes, params = update
            db.executemany(f"UPDATE outbox SET {changes} WHERE seq = ?",
                           [(*params, row[0]) for row in chosen])
            if note is not None:
                self._insert_log(db, [note(StoredMessage(*row[1:-1])) for row in chosen])
        changed = {row[0] for row in chosen}
        found = {row[1]: Handled(row[1], row[2], row[5], row[0] in changed, row[3], row[4])
                 for row in rows}
        if not named:
            return list(found.values())
        return [found.get(mid, Handled(mid, None, "unknown", False)) for mid in named]

    def pause(self, account: str, until: float, reason: str) -> None:
        with self._write() as db:
            db.execute("INSERT INTO account_pause VALUES (?, ?, ?) ON CONFLICT (account) "
                       "DO UPDATE SET until = excluded.until, reason = excluded.reason",
                       (account, until, reason))

    def pauses(self, now: float) -> dict[str, AccountPause]:
        rows = self._read("SELECT account, until, reason FROM account_pause WHERE until > ?",
                          (now,))
        return {row[0]: AccountPause(*row) for row in rows}

    def queue(self, now: float, since: float) -> list[QueueRow]:
        rows = self._read(
            "SELECT account, "
            "SUM(state = 'queued' AND not_before <= ?), SUM(state = 'queued' AND not_before > ?),"
            " SUM(state = 'inflight'), SUM(state = 'dead'), SUM(state = 'cancelled'),"
            " SUM(state = 'sent' AND sent_at >= ?),"
            " MIN(CASE WHEN state = 'queued' THEN not_before END) "
            "FROM outbox GROUP BY account ORDER BY account", (now, now, since))
        return [QueueRow(*row) for row in rows]

    def dead(self, account: str | None = None) -> list[tuple[str, str, str | None]]:
        where, params = ("AND account = ?", (account,)) if account else ("", ())
        return self._read(f"SELECT id, account, last_error FROM outbox WHERE state = 'dead' "
                          f"{where} ORDER BY seq", params)

    def log(self, *, account: str | None = None, outcome: str | None = None,
            since: float | None = None, recipient: str | None = None,
            message_id: str | None = None, limit: int | None = None) -> list[LogEntry]:
        filters = {"account = ?": account, "outcome = ?": outcome, "at >= ?": since,
                   "recipient LIKE ?": f"%{recipient}%" if recipient else None,
                   "message_id = ?": message_id}
        chosen = {sql: value for sql, value in filters.items() if value is not None}
        where = ("WHERE " + " AND ".join(chosen)) if chosen else ""
        tail = f"LIMIT {int(limit)}" if limit else ""
        rows = self._read(f"SELECT {', '.join(LOG_COLUMNS)} FROM delivery_log {where} "
                          f"ORDER BY seq DESC {tail}", list(chosen.values()))
        return [LogEntry(*row[:-1], info=json.loads(row[-1])) for row in rows]

    def clear_log(self, before: float | None = None) -> int:
        with self._write() as db:
            if before is None:
                return db.execute("DELETE FROM delivery_log").rowcount
            return db.execute("DELETE FROM delivery_log WHERE at < ?", (before,)).rowcount

    def recurring_last(self, name: str) -> float | None:
        rows = self._read("SELECT last FROM recurring WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_recurring_last(self, name: str, at: float) -> None:
        with self._write() as db:
            db.execute("INSERT INTO recurring VALUES (?, ?) ON CONFLICT (name) "
                       "DO UPDATE SET last = excluded.last", (name, at))

    def owners(self) -> dict[str, AccountIdentity]:
        """What the outbox records of each account that queued or sent through it."""
        with self._lock, translated(self.path):
            self._file.check()
            return self._owners.recorded(self._db)

    def adopt(self, accounts: Collection[str]) -> list[str]:
        """Record the configuration's ``accounts`` as this outbox's, so their waiting
        messages go as that configuration says; returns the accounts recorded."""
        with self._write() as db:
            return self._owners.adopt(db, accounts, self._clock())

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._file.close()
