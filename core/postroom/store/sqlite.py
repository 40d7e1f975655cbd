"""``SQLiteStore``: the embedded outbox and delivery log in one SQLite file.

WAL mode lets workers and senders work side by side; with ``durability =
"full"`` (the default) a commit is on disk before ``enqueue`` returns, so a
message survives a kill -9 of any process and a power cut. Writes take the
database lock up front (``BEGIN IMMEDIATE``), so two workers never claim the
same message, and a claim's reading of the account's usage, its decision and
its taking of the messages are one transaction: the limits hold for every
worker on the file. SQLite's errors (a lock held past ``busy_timeout``, a
full disk) come out as ``StoreUnavailable``, saying what to do. The file and its
owning configuration are checked as ``postroom.store.identity`` describes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import attrs
from attrs import evolve, frozen

from postroom.errors import ConfigError, StoreUnavailable
from postroom.health import AccountActivity, CreditReading, WorkerSeen
from postroom.messages import Message
from postroom.results import Credits
from postroom.scheduling import Schedule, Usage, bucket_after
from postroom.store import payload
from postroom.store.accounting import (
    STATE_COLUMNS,
    AccountState,
    ClaimPlan,
    after_reached,
    after_unreachable,
    build_usage,
    credit_noted,
    gate,
    mailbox_taken,
    plan_claim,
    switched,
    usage_query,
)
from postroom.store.identity import AccountIdentity, Owners, StoreFile, check_path
from postroom.store.interface import (
    AccountPause,
    BatchRow,
    Claim,
    Claimed,
    Disposition,
    Handled,
    InboxEntry,
    LogEntry,
    NewMessage,
    Note,
    OptOut,
    QueueRow,
    StoredMessage,
)
from postroom.store.rows import (
    INBOX_COLUMNS,
    LOG_COLUMNS,
    OPT_OUT_COLUMNS,
    OUTBOX_COLUMNS,
    STORED_COLUMNS,
    handled,
    inbox_entry,
    inbox_row,
    log_entry,
    log_filters,
    log_row,
    log_table_columns,
    opt_out,
    outbox_row,
    prune_in_chunks,
    prune_query,
    queue_query,
    where_clause,
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
    probe_until REAL,
    counted_from REAL,                         -- the sent-today counter's last reset
    disabled_at REAL,                          -- switched off by an operator (NULL: on)
    disabled_reason TEXT NOT NULL DEFAULT '',
    disabled_by TEXT NOT NULL DEFAULT '',
    low_credit_at REAL,                        -- the balance fell below the threshold
    mailbox_read_at REAL                       -- the mailbox's last scheduled read
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
    _add_columns(db, ADDED_COLUMNS)
    _run_script(db, ACCOUNT_STATE)


# Version 3: what comes in (webhooks, mailboxes), opt-outs, bulk sends, workers'
# heartbeats, balances read, and accounts switched off or counted from a reset.
INBOUND_AND_OPERATIONS = """
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    received REAL NOT NULL,
    channel TEXT NOT NULL,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,                        -- reply | bounce | other | opt_out | opt_in
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    text TEXT NOT NULL,
    subject TEXT,
    message_id TEXT,                           -- the outbox message it is about
    provider_id TEXT,
    info TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS inbox_provider_id ON inbox (account, provider_id)
    WHERE provider_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS inbox_received ON inbox (received);
CREATE INDEX IF NOT EXISTS inbox_message ON inbox (message_id);
CREATE TABLE IF NOT EXISTS mailbox_seen (
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (account, key)
);
CREATE TABLE IF NOT EXISTS opt_out (
    scope TEXT NOT NULL,
    address TEXT NOT NULL,
    opted_out INTEGER NOT NULL,
    at REAL NOT NULL,
    account TEXT,
    keyword TEXT,
    PRIMARY KEY (scope, address)
);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    accounts TEXT NOT NULL,                    -- JSON list; empty: every account
    sent INTEGER NOT NULL,
    dead INTEGER NOT NULL,
    seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS account_credits (
    account TEXT PRIMARY KEY,
    balance TEXT NOT NULL,
    unit TEXT NOT NULL,
    low_threshold TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_provider_id ON outbox (account, provider_id)
    WHERE provider_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_recipient ON outbox (account, recipient, sent_at);
CREATE INDEX IF NOT EXISTS outbox_batch ON outbox (batch) WHERE batch IS NOT NULL
"""
COLUMNS_3 = {("outbox", "batch"): "TEXT",  # the bulk send it belongs to
             ("outbox", "report"): "TEXT", ("outbox", "report_at"): "REAL",  # delivery reports
             ("outbox", "critical"): "INTEGER NOT NULL DEFAULT 0",
             ("account_state", "counted_from"): "REAL",
             ("account_state", "disabled_at"): "REAL",
             ("account_state", "disabled_reason"): "TEXT NOT NULL DEFAULT ''",
             ("account_state", "disabled_by"): "TEXT NOT NULL DEFAULT ''",
             ("account_state", "low_credit_at"): "REAL",
             ("account_state", "mailbox_read_at"): "REAL"}


def _add_columns(db: sqlite3.Connection, columns: dict[tuple[str, str], str]) -> None:
    for (table, column), kind in columns.items():
        if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _inbound_and_operations(db: sqlite3.Connection) -> None:
    _add_columns(db, COLUMNS_3)
    _run_script(db, INBOUND_AND_OPERATIONS)


STEPS = (
    Step(1, "the outbox, delivery log, account pauses and recurring sends",
         lambda db: _run_script(db, TABLES)),
    Step(2, "failover routes, claim tokens, shared account state (rate bucket, outages) "
            "and pause kinds", _claims_and_account_state),
    Step(3, "the inbox, opt-outs, mailbox reads, bulk-send ids, workers' heartbeats, "
            "balances, and accounts switched off or counted from a reset",
         _inbound_and_operations),
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
class Backup:
    """A backup taken: from ``source`` to ``target``, how many messages and log
    entries it holds, and its size in bytes."""

    source: str
    target: str
    messages: int
    log_entries: int
    size: int


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
    lock before ``StoreUnavailable`` (problem ``locked``) is raised. ``owners``
    describes the accounts of the configuration using the store (see
    ``postroom.store.identity``); without it no account is checked.
    """

    def __init__(self, path: str | os.PathLike, durability: str = "full",
                 clock: Callable[[], float] = time.time, busy_timeout: float = 30.0,
                 upgrade: bool = False,
                 owners: Mapping[str, AccountIdentity] | None = None) -> None:
        """Open (or create) the outbox at ``path``; ``upgrade`` brings an older one's
        tables up to date (``StoreError`` otherwise, saying what to run)."""
        self.path = Path(path)
        self._clock = clock
        self._busy_timeout = busy_timeout
        check_path(self.path)
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
        try:
            self._file = StoreFile(self.path)
            self._owners = Owners(owners or {})
            self._owners.start(self._db, clock())
        except sqlite3.Error as exc:
            raise self._fault(exc) from None

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
            self._file.check()
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
            self._file.check(header=False)
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
            self._owners.check(db, [item.account for item in items], self._clock())
            self._insert(db, items)
            keyed = [item.idempotency_key for item in items if item.idempotency_key]
            earlier = dict(_select_in(
                db, "SELECT idempotency_key, id FROM outbox WHERE idempotency_key IN", (), keyed))
        return [earlier.get(item.idempotency_key, item.message.id) if item.idempotency_key
                else item.message.id for item in items]

    def due_accounts(self, now: float) -> list[str]:
        # The accounts are walked through the index one by one (a skip scan), each
        # asked whether it has a due message: the outbox's sent rows are not read.
        rows = self._read(
            "WITH RECURSIVE accounts(name) AS (SELECT MIN(account) FROM outbox UNION ALL "
            "SELECT (SELECT MIN(account) FROM outbox WHERE account > name) FROM accounts "
            "WHERE name IS NOT NULL) SELECT name FROM accounts WHERE name IS NOT NULL AND ("
            "EXISTS (SELECT 1 FROM outbox WHERE account = name AND state = 'queued' "
            "AND not_before <= ?) OR EXISTS (SELECT 1 FROM outbox WHERE account = name "
            "AND state = 'inflight' AND lease_until <= ?)) ORDER BY name", (now, now))
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
            self._owners.check(db, [account], self._clock())
            decided = self._decide(db, account, schedule, limit)
            now, plan = decided.now, decided.plan
            taken = self._take(db, account, token, worker, now, lease, True, plan.manual, wanted,
                               now)
            taken += self._take(db, account, token, worker, now, lease, False,
                                plan.total - len(taken), wanted, min(now, plan.released))
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
                                              bool(manual), route, due, bool(critical),
                                              batch)
                                      for text, attempts, manual, route, due, critical, batch
                                      in taken],
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
        usage = self._usage(db, account, schedule, now, state)
        return _Decision(now, state, opened.probe, plan_claim(schedule, usage, now, limit))

    @staticmethod
    def _usage(db: sqlite3.Connection, account: str, schedule: Schedule, now: float,
               state: AccountState) -> Usage:
        query = usage_query(schedule, now, state.counted_from)
        times = db.execute("SELECT sent_at FROM outbox WHERE account = ? AND sent_at > ? "
                           "AND sent_at <= ? ORDER BY sent_at DESC LIMIT ?",
                           (account, query.sent_since, query.now, query.newest)).fetchall() \
            if query.newest else []
        today = db.execute("SELECT COUNT(*) FROM outbox WHERE account = ? AND sent_at >= ?",
                           (account, query.day_start)).fetchone()[0] \
            if query.day_start is not None else 0
        in_flight = db.execute("SELECT COUNT(*) FROM outbox WHERE account = ? "
                               "AND state = 'inflight' AND lease_until > ?",
                               (account, now)).fetchone()[0] if query.in_flight else 0
        return build_usage([t for (t,) in times], today, in_flight, state.bucket)

    @staticmethod
    def _take(db: sqlite3.Connection, account: str, token: str, worker: str, now: float,
              lease: float, manual: bool, count: int, wanted: str | None,
              due_by: float) -> list[tuple]:
        """Claim up to ``count`` messages, manual ones or the others: first those whose
        lease ran out, then queued ones due at or before ``due_by``, oldest first."""
        only = "AND id IN (SELECT value FROM json_each(?))" if wanted else ""
        rows: list[tuple] = []
        # One condition a statement, so that each reads the outbox_due index in order.
        for state, due in (("inflight", "lease_until <= ?"), ("queued", "not_before <= ?")):
            if len(rows) >= count:
                break
            taken = db.execute(
                "UPDATE outbox SET state = 'inflight', lease_until = ?, worker = ?, claim = ?, "
                "claimed_at = ? WHERE seq IN (SELECT seq FROM outbox WHERE account = ? "
                f"AND state = ? AND {due} AND manual = ? {only} ORDER BY not_before, seq "
                "LIMIT ?) RETURNING seq, payload, attempts, manual, route, not_before, "
                "critical, batch",
                (now + lease, worker, token, now, account, state,
                 now if state == "inflight" else due_by, int(manual),
                 *([wanted] if wanted else []), count - len(rows))).fetchall()
            rows += taken
        rows.sort()
        return [row[1:] for row in rows]

    @staticmethod
    def _state(db: sqlite3.Connection, account: str) -> AccountState:
        row = db.execute(f"SELECT {', '.join(STATE_COLUMNS)} FROM account_state "
                         "WHERE account = ?", (account,)).fetchone()
        return AccountState(*row) if row else AccountState()

    @staticmethod
    def _save_state(db: sqlite3.Connection, account: str, state: AccountState) -> None:
        db.execute(f"INSERT INTO account_state (account, {', '.join(STATE_COLUMNS)}) "
                   f"VALUES (?{', ?' * len(STATE_COLUMNS)}) ON CONFLICT (account) DO UPDATE SET "
                   + ", ".join(f"{name} = excluded.{name}" for name in STATE_COLUMNS),
                   (account, *attrs.astuple(state)))

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
        rows = self._read(f"SELECT {STORED_COLUMNS} FROM outbox WHERE id = ?", (message_id,))
        return StoredMessage(*rows[0]) if rows else None

    def find_sent(self, account: str, provider_id: str) -> StoredMessage | None:
        rows = self._read(f"SELECT {STORED_COLUMNS} FROM outbox WHERE account = ? "
                          "AND provider_id = ? ORDER BY seq DESC LIMIT 1", (account, provider_id))
        return StoredMessage(*rows[0]) if rows else None

    def last_sent_to(self, account: str, recipient: str) -> str | None:
        rows = self._read("SELECT id FROM outbox WHERE account = ? AND recipient = ? "
                          "AND sent_at IS NOT NULL ORDER BY sent_at DESC LIMIT 1",
                          (account, recipient))
        return rows[0][0] if rows else None

    def record_report(self, message_id: str, state: str, entry: LogEntry | None) -> None:
        with self._write() as db:
            # Pending only fills a blank; delivered replaces pending; failed replaces all.
            db.execute("UPDATE outbox SET report = ?1, report_at = ?2 WHERE id = ?3 AND "
                       "(report IS NULL OR (report = 'pending' AND ?1 != 'pending') "
                       "OR ?1 = 'failed')", (state, self._clock(), message_id))
            if entry is not None:
                self._insert_log(db, [entry])

    def add_inbox(self, entries: Sequence[InboxEntry], log: Sequence[LogEntry] = (),
                  seen: Sequence[tuple[str, str]] = ()) -> list[bool]:
        with self._write() as db:
            added = [db.execute(
                f"INSERT INTO inbox ({', '.join(INBOX_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(INBOX_COLUMNS))}) ON CONFLICT DO NOTHING",
                inbox_row(e)).rowcount == 1 for e in entries]
            self._insert_log(db, log)
            db.executemany("INSERT INTO mailbox_seen VALUES (?, ?) ON CONFLICT DO NOTHING", seen)
        return added

    def inbox(self, *, account: str | None = None, kind: str | None = None,
              channel: str | None = None, since: float | None = None,
              sender: str | None = None, message_id: str | None = None,
              limit: int | None = None) -> list[InboxEntry]:
        where, params = where_clause({
            "account = ?": account, "kind = ?": kind, "channel = ?": channel,
            "received >= ?": since, "message_id = ?": message_id,
            "sender LIKE ?": f"%{sender}%" if sender else None})
        tail = f"LIMIT {int(limit)}" if limit else ""
        rows = self._read(f"SELECT {', '.join(INBOX_COLUMNS)} FROM inbox {where} "
                          f"ORDER BY seq DESC {tail}", params)
        return [inbox_entry(row) for row in rows]

    def set_opt_out(self, change: OptOut) -> bool:
        with self._write() as db:
            return db.execute(
                "INSERT INTO opt_out VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, address) "
                "DO UPDATE SET opted_out = excluded.opted_out, at = excluded.at, "
                "account = excluded.account, keyword = excluded.keyword "
                "WHERE excluded.at >= opt_out.at",
                (change.scope, change.address, int(change.opted_out), change.at, change.account,
                 change.keyword)).rowcount == 1

    def opted_out(self, scope: str, address: str) -> OptOut | None:
        return self.opted_out_among(scope, [address]).get(address)

    def opted_out_among(self, scope: str, addresses: Sequence[str]) -> dict[str, OptOut]:
        with self._lock:
            self._file.check(header=False)
            try:
                rows = _select_in(self._db, f"SELECT {OPT_OUT_COLUMNS} FROM opt_out WHERE "
                                  "scope = ? AND opted_out = 1 AND address IN", (scope,),
                                  sorted(set(addresses)))
            except sqlite3.Error as exc:
                raise self._fault(exc) from None
        return {found.address: found for found in map(opt_out, rows)}

    def opt_outs(self, scope: str | None = None) -> list[OptOut]:
        where, params = where_clause({"scope = ?": scope, "opted_out = ?": 1})
        rows = self._read(f"SELECT {OPT_OUT_COLUMNS} FROM opt_out "
                          f"{where} ORDER BY at DESC", params)
        return [opt_out(row) for row in rows]

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
                                   self._state(self._db, account))
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
               note: Note = None, batch: str | None = None) -> list[Handled]:
        # The same test as claim's: what no worker holds may be cancelled.
        return self._change(
            ids, account, note, batch=batch,
            movable=("state = 'queued' OR (state = 'inflight' AND lease_until <= ?)", (now,)),
            reach="state IN ('queued', 'inflight')",
            update=("state = 'cancelled', not_before = ?, lease_until = NULL, worker = NULL, "
                    "claim = NULL", (now,)))

    def requeue(self, now: float, ids: Collection[str] = (), account: str | None = None,
                note: Note = None) -> list[Handled]:
        return self._change(
            ids, account, note, movable=("state = 'dead'", ()), reach="state = 'dead'",
            update=("state = 'queued', not_before = ?, attempts = 0, last_error = NULL, "
                    "lease_until = NULL, worker = NULL, claim = NULL", (now,)))

    def _change(self, ids: Collection[str], account: str | None, note: Note,
                movable: tuple[str, Sequence], reach: str,
                update: tuple[str, Sequence], batch: str | None = None) -> list[Handled]:
        """Apply ``update`` to the chosen messages that match ``movable``; log each.

        ``ids`` choose by id (those of another account than ``account`` are
        left); without them, ``batch``'s or ``account``'s messages matching ``reach``.
        """
        condition, condition_params = movable
        select = ("SELECT seq, id, account, recipient, summary, state, attempts, provider_id, "
                  f"({condition}) FROM outbox WHERE ")
        named = list(dict.fromkeys(ids))
        with self._write() as db:
            if named:
                rows = _select_in(db, f"{select}id IN", condition_params, named)
            elif batch is not None:
                rows = db.execute(f"{select}batch = ? AND ({reach}) ORDER BY seq",
                                  (*condition_params, batch)).fetchall()
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
        rows = self._read(queue_query("outbox", "?"), (now, now, since, now))
        return [QueueRow(*row) for row in rows]

    def dead(self, account: str | None = None) -> list[tuple[str, str, str | None]]:
        where, params = ("AND account = ?", (account,)) if account else ("", ())
        return self._read(f"SELECT id, account, last_error FROM outbox WHERE state = 'dead' "
                          f"{where} ORDER BY seq", params)

    def log(self, *, account: str | None = None, outcome: str | None = None,
            since: float | None = None, recipient: str | None = None,
            message_id: str | None = None, limit: int | None = None,
            batch: str | None = None) -> list[LogEntry]:
        # SQLite's LIKE is blind to the case of ASCII letters already.
        where, params = log_filters("?", "LIKE", account=account, outcome=outcome, since=since,
                                    recipient=recipient, message_id=message_id, batch=batch)
        tail = f"LIMIT {int(limit)}" if limit else ""
        rows = self._read(f"SELECT {', '.join(LOG_COLUMNS)} FROM delivery_log {where} "
                          f"ORDER BY seq DESC {tail}", params)
        return [log_entry(row) for row in rows]

    def clear_log(self, before: float | None = None) -> int:
        with self._write() as db:
            if before is None:
                return db.execute("DELETE FROM delivery_log").rowcount
            return db.execute("DELETE FROM delivery_log WHERE at < ?", (before,)).rowcount

    def prune(self, before: float) -> int:
        query = prune_query("outbox", "?")

        def delete_chunk() -> int:
            with self._write() as db:
                return db.execute(query, (before, before)).rowcount
        return prune_in_chunks(delete_chunk)

    def recurring_last(self, name: str) -> float | None:
        rows = self._read("SELECT last FROM recurring WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_recurring_last(self, name: str, at: float) -> None:
        with self._write() as db:
            db.execute("INSERT INTO recurring VALUES (?, ?) ON CONFLICT (name) "
                       "DO UPDATE SET last = excluded.last", (name, at))

    def seen_mail(self, account: str) -> set[str]:
        return {key for (key,) in self._read("SELECT key FROM mailbox_seen WHERE account = ?",
                                             (account,))}

    def forget_mail(self, account: str, keep: Collection[str]) -> int:
        gone = self.seen_mail(account) - set(keep)
        with self._write() as db:
            db.executemany("DELETE FROM mailbox_seen WHERE account = ? AND key = ?",
                           [(account, key) for key in gone])
        return len(gone)

    def account_states(self) -> dict[str, AccountState]:
        rows = self._read(f"SELECT account, {', '.join(STATE_COLUMNS)} FROM account_state")
        return {row[0]: AccountState(*row[1:]) for row in rows}

    def _change_state(self, account: str, change: Callable[[AccountState, float],
                                                           AccountState]) -> AccountState:
        """Apply ``change`` (given the state and the store's time) to the account's
        state in one write transaction; the state as it was before."""
        with self._write() as db:
            before = self._state(db, account)
            after = change(before, self._clock())
            if after != before:
                self._save_state(db, account, after)
        return before

    def switch(self, account: str, enabled: bool, reason: str = "", by: str = "") -> bool:
        before = self._change_state(account, lambda state, now: switched(
            state, enabled, now, reason, by))
        return before.enabled != enabled

    def reset_counter(self, account: str) -> float:
        now = self._clock()
        self._change_state(account, lambda state, _: evolve(state, counted_from=now))
        return now

    def sent_since(self, account: str, since: float) -> int:
        return self._read("SELECT COUNT(*) FROM outbox WHERE account = ? AND sent_at >= ?",
                          (account, since))[0][0]

    def flush(self, account: str) -> int:
        with self._write() as db:
            now = self._clock()
            return db.execute("UPDATE outbox SET manual = 1, not_before = MIN(not_before, ?) "
                              "WHERE account = ? AND state = 'queued' "
                              "AND (not_before <= ? OR attempts > 0)",
                              (now, account, now)).rowcount

    def note_credit(self, account: str, low: bool) -> bool:
        before = self._change_state(account, lambda state, now: credit_noted(state, low, now))
        return low and before.low_credit_at is None

    def take_mailbox_read(self, account: str, due: float) -> bool:
        before = self._change_state(account, lambda state, now: mailbox_taken(state, due, now))
        return before.mailbox_read_at is None or before.mailbox_read_at < due
    def batches(self, now: float, batch: str | None = None,
                since: float | None = None) -> list[BatchRow]:
        if batch is not None:
            where, params = "batch = ?", (batch,)
        else:
            where = ("batch IN (SELECT DISTINCT batch FROM outbox WHERE batch IS NOT NULL "
                     "AND (state IN ('queued', 'inflight') OR created >= ?))")
            params = (math.inf if since is None else since,)
        rows = self._read(
            "SELECT batch, account, SUM(state = 'sent'), SUM(state = 'dead'), "
            "SUM(state = 'queued' AND not_before <= ?), SUM(state = 'queued' AND not_before > ?),"
            " SUM(state = 'inflight'), SUM(state = 'cancelled'), MIN(created), "
            "MIN(CASE WHEN state IN ('queued', 'inflight') THEN not_before END), "
            "MAX(CASE WHEN state IN ('queued', 'inflight') THEN not_before END) "
            f"FROM outbox WHERE {where} GROUP BY batch, account ORDER BY MIN(seq)",
            (now, now, *params))
        found = []
        for row in rows:
            last_due = row[-1]
            ahead = 0 if last_due is None else self._read(
                "SELECT COUNT(*) FROM outbox WHERE account = ? AND state IN ('queued', "
                "'inflight') AND not_before <= ?", (row[1], last_due))[0][0]
            found.append(BatchRow(*row, ahead=ahead))
        return found

    def beat(self, worker: WorkerSeen) -> None:
        with self._write() as db:
            db.execute("INSERT INTO workers VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) "
                       "DO UPDATE SET accounts = excluded.accounts, sent = excluded.sent, "
                       "dead = excluded.dead, seen = excluded.seen",
                       (worker.id, worker.host, worker.pid, worker.started,
                        json.dumps(list(worker.accounts)), worker.sent, worker.dead,
                        self._clock()))

    def workers(self) -> list[WorkerSeen]:
        rows = self._read("SELECT id, host, pid, started, accounts, sent, dead, seen "
                          "FROM workers ORDER BY started")
        return [WorkerSeen(wid, host, pid, started, json.loads(accounts), sent, dead, seen)
                for wid, host, pid, started, accounts, sent, dead, seen in rows]

    def forget_workers(self, ids: Collection[str]) -> None:
        with self._write() as db:
            db.executemany("DELETE FROM workers WHERE id = ?", [(wid,) for wid in ids])

    def activity(self, now: float, dead_since: float) -> list[AccountActivity]:
        # A dead message keeps the time of its last try in not_before (see record).
        rows = self._read(
            "SELECT account, SUM(state IN ('queued', 'inflight')), "
            "SUM(state = 'queued' AND not_before <= ?), "
            "MIN(CASE WHEN state = 'queued' AND not_before <= ? THEN not_before END), "
            "MAX(claimed_at), SUM(state = 'dead' AND not_before >= ?) "
            "FROM outbox GROUP BY account ORDER BY account", (now, now, dead_since))
        return [AccountActivity(*row) for row in rows]

    def note_credits(self, account: str, credits: Credits, at: float) -> None:
        low = None if credits.low_threshold is None else str(credits.low_threshold)
        with self._write() as db:
            db.execute("INSERT INTO account_credits VALUES (?, ?, ?, ?, ?) ON CONFLICT "
                       "(account) DO UPDATE SET balance = excluded.balance, unit = "
                       "excluded.unit, low_threshold = excluded.low_threshold, at = excluded.at "
                       "WHERE excluded.at >= account_credits.at",
                       (account, str(credits.balance), credits.unit, low, at))

    def credit_readings(self) -> dict[str, CreditReading]:
        rows = self._read("SELECT account, balance, unit, low_threshold, at "
                          "FROM account_credits ORDER BY account")
        return {account: CreditReading(account, Decimal(balance), unit,
                                       None if low is None else Decimal(low), at)
                for account, balance, unit, low, at in rows}

    def backup(self, target: str | os.PathLike) -> Backup:
        """Copy the whole outbox to the file ``target`` with SQLite's online backup: a
        consistent copy while workers go on writing (a file copy of a database in
        WAL mode is not). The copy is checked, then put in place at once."""
        target = Path(target)
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        # A connection of its own: the copy must not hold this process's lock meanwhile.
        source = copy = None
        try:
            source = sqlite3.connect(self.path, timeout=self._busy_timeout)
            copy = sqlite3.connect(partial, isolation_level=None)
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise StoreUnavailable("damaged", str(target), f"the copy failed its integrity "
                                       f"check ({check})", "take the backup again")
            messages = copy.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            entries = copy.execute("SELECT COUNT(*) FROM delivery_log").fetchone()[0]
        except sqlite3.Error as exc:
            partial.unlink(missing_ok=True)
            raise self._fault(exc) from None
        finally:
            for connection in (copy, source):
                if connection is not None:
                    connection.close()
        os.replace(partial, target)
        return Backup(str(self.path), str(target), messages, entries, target.stat().st_size)

    def wait_for_work(self, timeout: float, stop: threading.Event | None = None) -> None:
        # A file tells no one about new rows: the worker looks again after the timeout.
        (stop or threading.Event()).wait(timeout)

    def owners(self) -> dict[str, AccountIdentity]:
        """What the outbox records of each account that queued or sent through it."""
        with self._lock:
            self._file.check()
            try:
                return self._owners.recorded(self._db)
            except sqlite3.Error as exc:
                raise self._fault(exc) from None

    def adopt(self, accounts: Collection[str]) -> list[str]:
        """Record the configuration's ``accounts`` as this outbox's, so their waiting
        messages go as that configuration says; returns the accounts recorded."""
        with self._write() as db:
            return self._owners.adopt(db, accounts, self._clock())

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._file.close()
