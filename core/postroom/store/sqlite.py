"""``SQLiteStore``: the embedded outbox and delivery log in one SQLite file.

WAL mode lets workers and senders work side by side; with ``durability =
"full"`` (the default) a commit is on disk before ``enqueue`` returns, so a
message survives a kill -9 of any process and a power cut. Writes take the
database lock up front (``BEGIN IMMEDIATE``), so two workers never claim the
same message, and a claim's reading of the account's usage, its decision and
its taking of the messages are one transaction: the limits hold for every
worker on the file. SQLite's errors (a lock held past ``busy_timeout``, a
full disk) come out as ``StoreUnavailable``, saying what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from attrs import evolve, frozen

from postroom.errors import ConfigError, StoreUnavailable
from postroom.messages import Message
from postroom.scheduling import Schedule, Usage, bucket_after
from postroom.store import payload
from postroom.store.accounting import (
    AccountState,
    ClaimPlan,
    after_reached,
    after_unreachable,
    build_usage,
    gate,
    plan_claim,
    usage_query,
)
from postroom.store.interface import (
    AccountPause,
    Claim,
    Claimed,
    Disposition,
    Handled,
    LogEntry,
    NewMessage,
    Note,
    QueueRow,
    StoredMessage,
)
from postroom.store.rows import (
    LOG_COLUMNS,
    OUTBOX_COLUMNS,
    handled,
    log_entry,
    log_filters,
    log_row,
    log_table_columns,
    outbox_row,
)
from postroom.store.schema import Step, latest, to_apply

# Version 1: the tables as every release before schema versions made them.
TABLES = """
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
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (account, state, not_before);
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (account, sent_at) WHERE sent_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS delivery_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
""" + log_table_columns({"text": "TEXT", "real": "REAL", "int": "INTEGER", "json": "TEXT"}) + """
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
)
"""

# Version 2: claims under a token, per-account state shared by every worker.
ACCOUNT_STATE = """
CREATE TABLE account_state (
    account TEXT PRIMARY KEY,
    bucket REAL,                               -- per_second: the next claim's arrival time
    failures INTEGER NOT NULL DEFAULT 0,       -- unreachable batches in a row
    probe TEXT,                                -- the claim token of the batch probing it
    probe_until REAL
);
CREATE INDEX outbox_claim ON outbox (claim) WHERE state = 'inflight'
"""
# Columns version 2 adds; ``route`` is there already in outboxes of the release
# that brought failover, which added it as it opened the file.
ADDED_COLUMNS = {("outbox", "route"): "TEXT",
                 ("outbox", "claim"): "TEXT",  # the token of the claim of a message in flight
                 ("outbox", "claimed_at"): "REAL",
                 ("account_pause", "kind"): "TEXT NOT NULL DEFAULT 'pause'"}  # or unreachable



def _run_script(db: sqlite3.Connection, script: str) -> None:
    # Statement by statement: executescript would commit the upgrade's transaction.
    for statement in script.split(";\n"):
        db.execute(statement)


def _claims_and_account_state(db: sqlite3.Connection) -> None:
    for (table, column), kind in ADDED_COLUMNS.items():
        if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    _run_script(db, ACCOUNT_STATE)


STEPS = (
    Step(1, "the outbox, delivery log, account pauses and recurring sends",
         lambda db: _run_script(db, TABLES)),
    Step(2, "failover routes, claim tokens, shared account state (rate bucket, outages) "
            "and pause kinds", _claims_and_account_state),
)

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


# What SQLite's error messages mean for the admin: (words in the message,
# problem key, what happened, what to do). The first match wins.
_FAULTS = (
    (("locked", "busy"), "locked",
     "another process held the database lock longer than busy_timeout ({timeout:g} s)",
     "this usually passes; if it does not, look for a process keeping a write open on the "
     "file (a backup, an open sqlite3 shell), or raise [store] busy_timeout"),
    (("full",), "full", "the disk is full",
     "free space on the disk that holds the file; nothing queued was lost"),
    (("disk i/o",), "io", "the disk reported an input/output error",
     "check the disk and file system the file is on (the system log says more)"),
    (("readonly", "read-only"), "read-only", "the file may not be written",
     "give the user postroom runs as write access to the file, its folder and the -wal "
     "and -shm files beside it"),
    (("unable to open",), "cannot-open", "the file cannot be opened",
     "check that its folder exists and that postroom may write there"),
    (("malformed", "not a database"), "damaged",
     "the file is damaged or is not a postroom database",
     "restore it from a backup, or point [store] path at another file"),
)


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


@frozen
class _Decision:
    """What a claim decided: at ``now``, with the account's ``state``; ``probe``
    when the claim probes an unreachable account."""

    now: float
    state: AccountState
    probe: bool
    plan: ClaimPlan


class SQLiteStore:
    """The ``Store`` on one SQLite file, created on first use.

    ``busy_timeout`` is how long a statement waits for another process's
    lock before ``StoreUnavailable`` (problem ``locked``) is raised.
    """

    def __init__(self, path: str | os.PathLike, durability: str = "full",
                 clock: Callable[[], float] = time.time, busy_timeout: float = 30.0,
                 upgrade: bool = False) -> None:
        """Open (or create) the outbox at ``path``; ``upgrade`` brings an older one's
        tables up to date (``StoreError`` otherwise, saying what to run)."""
        self.path = Path(path)
        self._clock = clock
        self._busy_timeout = busy_timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable("cannot-open", str(self.path), f"its folder cannot be made "
                                   f"({exc.strerror})", "create the folder, or point "
                                   "[store] path somewhere postroom may write") from None
        # One connection, shared by the threads of this process under a lock.
        self.where = str(self.path)
        #: What opening the store did to its tables (``Step.what`` each), for people.
        self.applied: list[str] = []
        self._db = self._open(durability, upgrade)
        self._lock = threading.RLock()
        self.version = latest(STEPS)

    def _open(self, durability: str, upgrade: bool) -> sqlite3.Connection:
        """Connect, switch to WAL and make (or with ``upgrade``, bring up to date)
        the tables, retrying while another process does the same: SQLite answers a
        concurrent first open "locked" at once, without waiting for the busy timeout."""
        deadline = time.monotonic() + self._busy_timeout
        delay = 0.01
        while True:
            db = None
            try:
                db = sqlite3.connect(self.path, isolation_level=None,
                                     timeout=self._busy_timeout, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
                db.execute("BEGIN IMMEDIATE")
                self.applied = self._prepare(db, upgrade)
                db.execute("COMMIT")
                return db
            except sqlite3.Error as exc:
                if db is not None:
                    db.close()
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise self._fault(exc) from None
            except BaseException:  # an outbox to upgrade first: say so, hold no file open
                db.close()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _fault(self, exc: sqlite3.Error) -> StoreUnavailable:
        """``exc`` in words for the admin."""
        text = str(exc).lower()
        for words, problem, detail, hint in _FAULTS:
            if any(word in text for word in words):
                return StoreUnavailable(problem, str(self.path),
                                        detail.format(timeout=self._busy_timeout), hint)
        return StoreUnavailable("failed", str(self.path), f"SQLite said: {exc}",
                                "check the file and the disk it is on")

    def _prepare(self, db: sqlite3.Connection, upgrade: bool) -> list[str]:
        """Apply the schema steps the file needs, in ``db``'s transaction."""
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" in tables:
            current = db.execute("SELECT version FROM schema_version").fetchone()[0]
        else:  # an outbox from before schema versions is at version 1
            current = 1 if "outbox" in tables else 0
        todo = to_apply(STEPS, current, str(self.path), upgrade)
        for step in todo:
            step.apply(db)
        if todo:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version VALUES (?)", (todo[-1].version,))
        return [step.what for step in todo]

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._fault(exc) from None
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._fault(exc) from None
                raise

    def _read(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._fault(exc) from None

    def _insert(self, db: sqlite3.Connection, items: Sequence[NewMessage]) -> None:
        now = self._clock()
        db.executemany(
            f"INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(OUTBOX_COLUMNS))}) "
            "ON CONFLICT (idempotency_key) DO NOTHING", [outbox_row(item, now) for item in items])

    def enqueue(self, items: Sequence[NewMessage], connection: object = None) -> list[str]:
        if connection is not None:
            raise ConfigError([("store.url", "queuing inside your own transaction "
                                "(connection=...) needs the PostgreSQL store: set [store] url "
                                "to the database your app writes to")])
        with self._write() as db:
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

    def claim(self, account: str, schedule: Schedule, *, limit: int, lease: float,
              worker: str, ids: Collection[str] = ()) -> Claim:
        token = uuid.uuid4().hex
        if limit <= 0:
            return Claim(account, token)
        # A look without the write lock first: when the limits let nothing go,
        # as the other workers of a busy account mostly find, no lock is taken.
        with self._lock:
            try:
                looked = self._decide(self._db, account, schedule, limit)
            except sqlite3.Error as exc:
                raise self._fault(exc) from None
        if not looked.plan.manual:
            return Claim(account, token, wake=looked.plan.wake)
        wanted = json.dumps(list(ids)) if ids else None
        with self._write() as db:
            decided = self._decide(db, account, schedule, limit)
            now, plan = decided.now, decided.plan
            taken = self._take(db, account, token, worker, now, lease, True, plan.manual, wanted)
            taken += self._take(db, account, token, worker, now, lease, False,
                                plan.total - len(taken), wanted)
            if taken:
                state = decided.state
                bucket = bucket_after(schedule, state.bucket, datetime.fromtimestamp(now, UTC),
                                      len(taken))
                probe = (token, now + lease) if decided.probe else (state.probe,
                                                                     state.probe_until)
                changed = evolve(state, bucket=bucket, probe=probe[0], probe_until=probe[1])
                if changed != state:
                    self._save_state(db, account, changed)
        if not taken:
            return Claim(account, token, wake=plan.wake)
        return Claim(account, token, [Claimed(account, payload.load(text), attempts,
                                              bool(manual), route, due)
                                      for text, attempts, manual, route, due in taken],
                     now + lease, decided.probe)

    def _decide(self, db: sqlite3.Connection, account: str, schedule: Schedule,
                limit: int) -> _Decision:
        """How many of ``account``'s messages may go now, read through ``db``."""
        now = self._clock()
        paused = db.execute("SELECT until FROM account_pause WHERE account = ?",
                            (account,)).fetchone()
        state = self._state(db, account)
        opened = gate(state, paused[0] if paused else None, now)
        if not opened.open:
            return _Decision(now, state, False, ClaimPlan(0, 0, opened.wake))
        usage = self._usage(db, account, schedule, now, state.bucket)
        return _Decision(now, state, opened.probe, plan_claim(schedule, usage, now, limit))

    @staticmethod
    def _usage(db: sqlite3.Connection, account: str, schedule: Schedule, now: float,
               bucket: float | None) -> Usage:
        query = usage_query(schedule, now)
        times = db.execute("SELECT sent_at FROM outbox WHERE account = ? AND sent_at > ? "
                           "ORDER BY sent_at DESC LIMIT ?",
                           (account, query.sent_since, query.newest)).fetchall() \
            if query.newest else []
        today = db.execute("SELECT COUNT(*) FROM outbox WHERE account = ? AND sent_at >= ?",
                           (account, query.day_start)).fetchone()[0] \
            if query.day_start is not None else 0
        in_flight = db.execute("SELECT COUNT(*) FROM outbox WHERE account = ? "
                               "AND state = 'inflight' AND lease_until > ?",
                               (account, now)).fetchone()[0] if query.in_flight else 0
        return build_usage([t for (t,) in times], today, in_flight, bucket)

    @staticmethod
    def _take(db: sqlite3.Connection, account: str, token: str, worker: str, now: float,
              lease: float, manual: bool, count: int, wanted: str | None) -> list[tuple]:
        """Claim up to ``count`` due messages, manual ones or the others, oldest first."""
        if count <= 0:
            return []
        only = "AND id IN (SELECT value FROM json_each(?))" if wanted else ""
        rows = db.execute(
            "UPDATE outbox SET state = 'inflight', lease_until = ?, worker = ?, claim = ?, "
            "claimed_at = ? WHERE seq IN (SELECT seq FROM outbox WHERE account = ? "
            "AND manual = ? AND ((state = 'queued' AND not_before <= ?) OR "
            f"(state = 'inflight' AND lease_until <= ?)) {only} ORDER BY not_before, seq "
            "LIMIT ?) RETURNING seq, payload, attempts, manual, route, not_before",
            (now + lease, worker, token, now, account, int(manual), now, now,
             *([wanted] if wanted else []), count)).fetchall()
        rows.sort()
        return [row[1:] for row in rows]

    @staticmethod
    def _state(db: sqlite3.Connection, account: str) -> AccountState:
        row = db.execute("SELECT bucket, failures, probe, probe_until FROM account_state "
                         "WHERE account = ?", (account,)).fetchone()
        return AccountState(*row) if row else AccountState()

    @staticmethod
    def _save_state(db: sqlite3.Connection, account: str, state: AccountState) -> None:
        db.execute("INSERT INTO account_state VALUES (?, ?, ?, ?, ?) ON CONFLICT (account) "
                   "DO UPDATE SET bucket = excluded.bucket, failures = excluded.failures, "
                   "probe = excluded.probe, probe_until = excluded.probe_until",
                   (account, state.bucket, state.failures, state.probe, state.probe_until))

    def renew(self, token: str, lease: float) -> int:
        with self._write() as db:
            until = self._clock() + lease
            held = db.execute("UPDATE outbox SET lease_until = ? WHERE claim = ? "
                              "AND state = 'inflight'", (until, token)).rowcount
            db.execute("UPDATE account_state SET probe_until = ? WHERE probe = ?",
                       (until, token))
        return held

    def record(self, token: str, dispositions: Sequence[Disposition],
               follow_ups: Sequence[NewMessage] = ()) -> None:
        with self._write() as db:
            self._insert(db, follow_ups)
            # Sent wins even if the lease ran out meanwhile (and someone then
            # cancelled or claimed the message): it did go. Other outcomes only
            # count while this claim still holds the message, so they never
            # bring back a message cancelled or taken after its lease ran out.
            db.executemany("UPDATE outbox SET state = 'sent', sent_at = ?, provider_id = ?, "
                           "attempts = attempts + 1, lease_until = NULL, last_error = NULL, "
                           "claim = NULL WHERE id = ? AND state != 'sent'",
                           [(d.at, d.provider_id, d.message_id) for d in dispositions
                            if d.state == "sent"])
            db.executemany("UPDATE outbox SET state = ?, not_before = ?, "
                           "attempts = attempts + ?, lease_until = NULL, last_error = ?, "
                           "account = COALESCE(?, account), claim = NULL "
                           "WHERE id = ? AND state = 'inflight' AND claim = ?",
                           [(d.state, d.not_before, int(d.counted), d.error, d.account,
                             d.message_id, token) for d in dispositions if d.state != "sent"])
            self._insert_log(db, [d.log for d in dispositions if d.log is not None])

    @staticmethod
    def _insert_log(db: sqlite3.Connection, entries: Sequence[LogEntry]) -> None:
        db.executemany(
            f"INSERT INTO delivery_log ({', '.join(LOG_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(LOG_COLUMNS))})", [log_row(e) for e in entries])

    def append_log(self, entries: Sequence[LogEntry]) -> None:
        with self._write() as db:
            self._insert_log(db, entries)

    def find(self, message_id: str) -> StoredMessage | None:
        rows = self._read("SELECT id, account, recipient, summary, state, attempts, "
                          "provider_id FROM outbox WHERE id = ?", (message_id,))
        return StoredMessage(*rows[0]) if rows else None

    def release(self, token: str, message_ids: Sequence[str]) -> None:
        with self._write() as db:
            db.executemany("UPDATE outbox SET state = 'queued', lease_until = NULL, claim = NULL "
                           "WHERE id = ? AND state = 'inflight' AND claim = ?",
                           [(mid, token) for mid in message_ids])
            db.execute("UPDATE account_state SET probe = NULL, probe_until = NULL "
                       "WHERE probe = ?", (token,))

    def mark_unreachable(self, account: str, token: str, reason: str, pause: float,
                         pause_max: float) -> float | None:
        with self._write() as db:
            state, until = after_unreachable(self._state(db, account), token, self._clock(),
                                             pause, pause_max)
            if until is None:
                return None
            self._save_state(db, account, state)
            # A longer pause already in force (throttled, out of credit) stays.
            db.execute("INSERT INTO account_pause VALUES (?, ?, ?, 'unreachable') "
                       "ON CONFLICT (account) DO UPDATE SET until = excluded.until, "
                       "reason = excluded.reason, kind = excluded.kind "
                       "WHERE account_pause.until < excluded.until", (account, until, reason))
        return until

    def mark_reachable(self, account: str) -> None:
        with self._write() as db:
            state = self._state(db, account)
            if state != after_reached(state):
                self._save_state(db, account, after_reached(state))
            db.execute("DELETE FROM account_pause WHERE account = ? AND kind = 'unreachable'",
                       (account,))

    def usage(self, account: str, schedule: Schedule) -> Usage:
        with self._lock:
            try:
                return self._usage(self._db, account, schedule, self._clock(),
                                   self._state(self._db, account).bucket)
            except sqlite3.Error as exc:
                raise self._fault(exc) from None

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

    def cancel(self, now: float, ids: Collection[str] = (), account: str | None = None,
               note: Note = None) -> list[Handled]:
        # The same test as claim's: what no worker holds may be cancelled.
        return self._change(
            ids, account, note,
            movable=("state = 'queued' OR (state = 'inflight' AND lease_until <= ?)", (now,)),
            reach="state IN ('queued', 'inflight')",
            update=("state = 'cancelled', lease_until = NULL, worker = NULL, claim = NULL", ()))

    def requeue(self, now: float, ids: Collection[str] = (), account: str | None = None,
                note: Note = None) -> list[Handled]:
        return self._change(
            ids, account, note, movable=("state = 'dead'", ()), reach="state = 'dead'",
            update=("state = 'queued', not_before = ?, attempts = 0, last_error = NULL, "
                    "lease_until = NULL, worker = NULL, claim = NULL", (now,)))

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
        return handled(rows, {row[0] for row in chosen}, named)

    def pause(self, account: str, until: float, reason: str) -> None:
        with self._write() as db:
            db.execute("INSERT INTO account_pause VALUES (?, ?, ?, 'pause') ON CONFLICT (account) "
                       "DO UPDATE SET until = excluded.until, reason = excluded.reason, "
                       "kind = excluded.kind", (account, until, reason))

    def pauses(self, now: float) -> dict[str, AccountPause]:
        rows = self._read("SELECT account, until, reason, kind FROM account_pause "
                          "WHERE until > ?", (now,))
        return {row[0]: AccountPause(*row) for row in rows}

    def queue(self, now: float, since: float) -> list[QueueRow]:
        rows = self._read(
            "SELECT account, "
            "SUM(state = 'queued' AND not_before <= ?), SUM(state = 'queued' AND not_before > ?),"
            " SUM(state = 'inflight'), SUM(state = 'dead'), SUM(state = 'cancelled'),"
            " SUM(state = 'sent' AND sent_at >= ?),"
            " MIN(CASE WHEN state = 'queued' THEN not_before END),"
            " SUM(state = 'queued' AND not_before > ? AND attempts > 0) "
            "FROM outbox GROUP BY account ORDER BY account", (now, now, since, now))
        return [QueueRow(*row) for row in rows]

    def dead(self, account: str | None = None) -> list[tuple[str, str, str | None]]:
        where, params = ("AND account = ?", (account,)) if account else ("", ())
        return self._read(f"SELECT id, account, last_error FROM outbox WHERE state = 'dead' "
                          f"{where} ORDER BY seq", params)

    def log(self, *, account: str | None = None, outcome: str | None = None,
            since: float | None = None, recipient: str | None = None,
            message_id: str | None = None, limit: int | None = None) -> list[LogEntry]:
        # SQLite's LIKE is blind to the case of ASCII letters already.
        where, params = log_filters("?", "LIKE", account=account, outcome=outcome, since=since,
                                    recipient=recipient, message_id=message_id)
        tail = f"LIMIT {int(limit)}" if limit else ""
        rows = self._read(f"SELECT {', '.join(LOG_COLUMNS)} FROM delivery_log {where} "
                          f"ORDER BY seq DESC {tail}", params)
        return [log_entry(row) for row in rows]

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

    def wait_for_work(self, timeout: float, stop: threading.Event | None = None) -> None:
        # A file tells no one about new rows: the worker looks again after the timeout.
        (stop or threading.Event()).wait(timeout)

    def close(self) -> None:
        with self._lock:
            self._db.close()
