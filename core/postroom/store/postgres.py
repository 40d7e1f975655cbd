"""``PostgresStore``: the outbox and delivery log in PostgreSQL, shared by workers
on several hosts (``pip install "postroom[postgres]"``).

It keeps the same tables as the SQLite store, in a schema of its own
(``postroom`` unless ``[store] schema`` says otherwise), and behaves the same
way method by method. What PostgreSQL adds:

- workers claim with ``FOR UPDATE SKIP LOCKED``: two workers never wait on,
  nor take, the same message;
- a claim first locks the account's row in ``account_state`` (``_lock_account``),
  so decisions about one account's limits are taken one at a time, whichever
  host takes them;
- a message that falls due now sends ``NOTIFY``, and an idle worker waiting in
  ``wait_for_work`` starts on it at once;
- ``enqueue(..., connection=conn)`` writes through the app's own connection,
  inside its transaction.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

import attrs
import psycopg
from attrs import evolve
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from postroom.errors import ConfigError, StoreError, StoreUnavailable
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
from postroom.store.identity import AccountIdentity, Owners, OwnerTables
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
from postroom.store.postgres_tables import STEPS
from postroom.store.rows import (
    INBOX_COLUMNS,
    LOG_COLUMNS,
    LOG_TABLE,
    OPT_OUT_COLUMNS,
    OUTBOX_COLUMNS,
    STORED_COLUMNS,
    handled,
    inbox_entry,
    inbox_row,
    log_entry,
    log_filters,
    log_row,
    opt_out,
    outbox_row,
    prune_in_chunks,
    prune_query,
    queue_query,
    where_clause,
)
from postroom.store.schema import DEFAULT_SCHEMA, SCHEMA_HINT, SCHEMA_NAME, latest, to_apply
from postroom.store.wakeup import Wakeup, notify

T = TypeVar("T")

# Which database a connection reaches: the server (unique per cluster) and the name.
_WHICH_DATABASE = "SELECT system_identifier, current_database() FROM pg_control_system()"

# The types of the columns ``enqueue`` and the log write from arrays.
OUTBOX_TYPES = ("text", "text", "text", "text", "text", "float8", "bool", "text", "float8",
                "text", "bool", "text")
LOG_TYPES = tuple({"real": "float8", "json": "jsonb"}.get(kind, kind)
                  for _, kind, _ in LOG_TABLE)


def describe_url(url: str, schema: str) -> str:
    """Where a URL points, for people: never its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(a [store] url PostgreSQL cannot read)"
    host = parts.get("host") or "localhost"
    user = f"{parts['user']}@" if parts.get("user") else ""
    return (f"postgresql://{user}{host}:{parts.get('port') or 5432}/{parts.get('dbname', '')} "
            f"(schema {schema})")


def _from_arrays(columns: Sequence[str], types: Sequence[str], table: str) -> str:
    """``INSERT INTO table (columns) SELECT ... FROM unnest(arrays)``, rows in array order."""
    # %b: the arrays go in binary, not escaped element by element as text.
    arrays = ", ".join(f"%b::{kind}[]" if kind != "jsonb" else "%b::text[]" for kind in types)
    values = ", ".join(f"{name}::jsonb" if kind == "jsonb" else name
                       for name, kind in zip(columns, types, strict=True))
    return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM "
            f"unnest({arrays}) WITH ORDINALITY AS rows ({', '.join(columns)}, position) "
            "ORDER BY position")


def _columns(rows: Sequence[tuple], width: int) -> list[list]:
    """Rows turned into one list a column, as ``unnest`` takes them."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


class PostgresStore:
    """The ``Store`` on a PostgreSQL database; tables made on first use.

    ``url`` is a libpq connection string or URL (``postgresql://user@host/db``);
    ``schema`` the schema the tables live in. ``durability = "normal"`` turns
    ``synchronous_commit`` off: a crash of the server may lose the last
    commits, never corrupt them.
    """

    def __init__(self, url: str, schema: str = DEFAULT_SCHEMA, durability: str = "full",
                 clock: Callable[[], float] = time.time, upgrade: bool = False,
                 pool_size: int = 8,
                 owners: Mapping[str, AccountIdentity] | None = None) -> None:
        if not SCHEMA_NAME.fullmatch(schema):
            raise ConfigError([("store.schema", f"expected {SCHEMA_HINT}, got {schema!r}")])
        self.schema = schema
        self.where = describe_url(url, schema)
        self._url = url
        self._clock = clock
        self._q = f'"{schema}"'
        self._owners = Owners(owners or {}, OwnerTables(f"{self._q}.", "%s"))
        self._database: tuple | None = None  # (server, name), read when first asked
        self._sharing: weakref.WeakSet = weakref.WeakSet()  # connections found to share it
        self.channel = f"postroom_{schema}"
        options = {"connect_timeout": 10}
        if durability != "full":
            options["options"] = "-c synchronous_commit=off"
        #: What opening the store did to its tables (``Step.what`` each), for people.
        self.applied = self._guard(lambda: self._prepare(upgrade))
        self.version = latest(STEPS)
        # A call waits up to 10 s for a connection while the server is away, then
        # raises StoreUnavailable: the worker keeps its results and tries again.
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, kwargs=options,
                                    check=ConnectionPool.check_connection, num_workers=1,
                                    name=f"postroom-{schema}", timeout=10, open=True)
        self._wakeup = Wakeup(url, self.channel)

    # -- connections, transactions and errors ---------------------------------

    def _unreachable(self, exc: Exception) -> StoreUnavailable:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreUnavailable("unreachable", self.where, f"cannot reach PostgreSQL: {reason}",
                                "check that the server runs and [store] url")

    def _guard(self, work: Callable[[], T]) -> T:
        """Run ``work``, turning a lost or refused connection into ``StoreUnavailable``."""
        try:
            return work()
        except psycopg.OperationalError as exc:
            state = getattr(exc, "sqlstate", None) or ""
            # No SQLSTATE: the connection itself failed; 08: connection exception;
            # 57P: the server is shutting down or restarting.
            if not state or state.startswith(("08", "57P")):
                raise self._unreachable(exc) from None
            raise

    def _run(self, work: Callable[[psycopg.Cursor], T]) -> T:
        """Run ``work`` in one transaction on a pooled connection; commit if it returns.

        A transaction PostgreSQL rolled back to break a deadlock (two operators'
        commands and a worker locking the same messages in another order) is
        run again.
        """
        def attempt() -> T:
            for _ in range(2):
                with contextlib.suppress(pg_errors.TransactionRollback), \
                        self._pool.connection() as conn, conn.cursor() as cur:
                    return work(cur)
            with self._pool.connection() as conn, conn.cursor() as cur:  # the last try
                return work(cur)
        return self._guard(attempt)

    def _rows(self, query: str, params: Sequence = ()) -> list[tuple]:
        return self._run(lambda cur: cur.execute(query, params).fetchall())

    def _prepare(self, upgrade: bool) -> list[str]:
        q = self._q
        with psycopg.connect(self._url, connect_timeout=10) as conn, conn.cursor() as cur:
            # One process at a time builds or upgrades the tables: workers starting
            # together on an empty database would otherwise race to make them.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"postroom {self.schema}",))
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {q}")
            cur.execute("SELECT to_regclass(%s)", (f"{q}.schema_version",))
            exists = cur.fetchone()[0] is not None
            current = cur.execute(f"SELECT version FROM {q}.schema_version").fetchone()[0] \
                if exists else 0
            todo = to_apply(STEPS, current, self.where, upgrade)
            for step in todo:
                step.apply(lambda text: cur.execute(text.replace("{s}", q)))
            if todo:
                cur.execute(f"UPDATE {q}.schema_version SET version = %s", (todo[-1].version,))
            self._owners.start(cur, self._clock())
        return [step.what for step in todo]

    # -- enqueue and claim ----------------------------------------------------

    def _insert(self, cur: psycopg.Cursor, items: Sequence[NewMessage]) -> None:
        if not items:
            return
        now = self._clock()
        rows = [outbox_row(item, now) for item in items]
        if any(item.idempotency_key for item in items):
            cur.execute(_from_arrays(OUTBOX_COLUMNS, OUTBOX_TYPES, f"{self._q}.outbox")
                        + " ON CONFLICT (idempotency_key) DO NOTHING",
                        _columns(rows, len(OUTBOX_COLUMNS)))
        else:  # nothing can conflict: COPY, the fastest way in, for bulk sends
            with cur.copy(f"COPY {self._q}.outbox ({', '.join(OUTBOX_COLUMNS)}) "
                          "FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(list(OUTBOX_TYPES))
                for row in rows:
                    copy.write_row(row)
        if any(item.not_before <= now for item in items):
            self._wake(cur)

    def _wake(self, cur: psycopg.Cursor) -> None:
        """Wake idle workers when the transaction commits: a message is due now."""
        notify(cur, self.channel)

    def _enqueue(self, cur: psycopg.Cursor, items: Sequence[NewMessage]) -> list[str]:
        self._owners.check(cur, [item.account for item in items], self._clock())
        self._insert(cur, items)
        keyed = [item.idempotency_key for item in items if item.idempotency_key]
        earlier = dict(cur.execute(f"SELECT idempotency_key, id FROM {self._q}.outbox "
                                   "WHERE idempotency_key = ANY(%s)", (keyed,)).fetchall()) \
            if keyed else {}
        return [earlier.get(item.idempotency_key, item.message.id) if item.idempotency_key
                else item.message.id for item in items]

    def enqueue(self, items: Sequence[NewMessage], connection: object = None) -> list[str]:
        if connection is None:
            return self._run(lambda cur: self._enqueue(cur, items))
        if not isinstance(connection, psycopg.Connection):
            raise TypeError("connection: expected an open psycopg (version 3) connection to "
                            f"the database of [store] url, got {type(connection).__name__}")
        # The caller's transaction is theirs to commit or roll back: no commit here.
        try:
            with psycopg.Cursor(connection) as cur:
                return self._enqueue(cur, items)
        except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName):
            raise StoreError(f"the connection given has no postroom outbox in schema "
                             f"{self.schema}: pass a connection to the database of [store] url "
                             f"({self.where})", usage=True) from None

    def shares_database(self, connection: object) -> bool:
        """Whether ``connection`` (an app's own psycopg connection) is to this outbox's
        database: the same server (its system identifier) and database name."""
        if not isinstance(connection, psycopg.Connection):
            return False
        if connection in self._sharing:
            return True
        if self._database is None:
            self._database = self._rows(_WHICH_DATABASE)[0]
        with psycopg.Cursor(connection) as cur:
            same = cur.execute(_WHICH_DATABASE).fetchone() == self._database
        if same:
            self._sharing.add(connection)
        return same

    def due_accounts(self, now: float) -> list[str]:
        rows = self._rows(
            f"SELECT DISTINCT account FROM {self._q}.outbox WHERE (state = 'queued' AND "
            "not_before <= %s) OR (state = 'inflight' AND lease_until <= %s) ORDER BY account",
            (now, now))
        return [account for (account,) in rows]

    def next_due(self) -> float | None:
        return self._rows(f"SELECT MIN(CASE state WHEN 'queued' THEN not_before "
                          f"ELSE lease_until END) FROM {self._q}.outbox "
                          "WHERE state IN ('queued', 'inflight')")[0][0]

    def _lock_account(self, cur: psycopg.Cursor, account: str) -> AccountState:
        """Lock the account's row until the transaction ends, and read its state.

        A row lock rather than an advisory lock: it needs no hashing of names
        into numbers (which may collide), shows in ``pg_locks`` against a table
        people can read, and is released by the commit or by the server when a
        host's connection dies, so a crashed host never holds an account. It is
        also where the state it guards lives (the rate bucket, an outage's
        probe), so reading that state and locking it are one statement. The row
        is made on the account's first claim.
        """
        query = (f"SELECT {', '.join(STATE_COLUMNS)} FROM {self._q}.account_state "
                 "WHERE account = %s FOR UPDATE")
        row = cur.execute(query, (account,)).fetchone()
        if row is None:
            cur.execute(f"INSERT INTO {self._q}.account_state (account) VALUES (%s) "
                        "ON CONFLICT DO NOTHING", (account,))
            row = cur.execute(query, (account,)).fetchone()
        return AccountState(*row)

    def _state(self, cur: psycopg.Cursor, account: str) -> AccountState:
        row = cur.execute(f"SELECT {', '.join(STATE_COLUMNS)} FROM "
                          f"{self._q}.account_state WHERE account = %s", (account,)).fetchone()
        return AccountState(*row) if row else AccountState()

    def _save_state(self, cur: psycopg.Cursor, account: str, state: AccountState) -> None:
        cur.execute(f"INSERT INTO {self._q}.account_state (account, {', '.join(STATE_COLUMNS)}) "
                    f"VALUES (%s{', %s' * len(STATE_COLUMNS)}) ON CONFLICT (account) DO UPDATE "
                    "SET " + ", ".join(f"{name} = excluded.{name}" for name in STATE_COLUMNS),
                    (account, *attrs.astuple(state)))

    def _decide(self, cur: psycopg.Cursor, account: str, schedule: Schedule, limit: int,
                state: AccountState) -> tuple[float, bool, ClaimPlan]:
        """``accounting``'s decision for ``account`` now: (now, probe, plan)."""
        now = self._clock()
        paused = cur.execute(f"SELECT until FROM {self._q}.account_pause WHERE account = %s",
                             (account,)).fetchone()
        opened = gate(state, paused[0] if paused else None, now)
        if not opened.open:
            return now, False, ClaimPlan(0, 0, opened.wake)
        usage = self._usage(cur, account, schedule, now, state)
        return now, opened.probe, plan_claim(schedule, usage, now, limit)

    def _usage(self, cur: psycopg.Cursor, account: str, schedule: Schedule, now: float,
               state: AccountState) -> Usage:
        """The account's usage, read in one statement and so from one snapshot.

        Results are recorded without the account's lock, so separate statements
        could see a message neither in flight (the record committed between
        them) nor among the sent ones (read before it): a claim would let one
        through that a limit holds back.
        """
        query = usage_query(schedule, now, state.counted_from)
        q = self._q
        parts, params = [], []
        if query.newest:
            parts.append(f"ARRAY(SELECT sent_at FROM {q}.outbox WHERE account = %s "
                         "AND sent_at > %s AND sent_at <= %s ORDER BY sent_at DESC LIMIT %s)")
            params += [account, query.sent_since, query.now, query.newest]
        else:
            parts.append("'{}'::float8[]")
        if query.day_start is not None:
            parts.append(f"(SELECT COUNT(*) FROM {q}.outbox WHERE account = %s "
                         "AND sent_at >= %s)")
            params += [account, query.day_start]
        else:
            parts.append("0")
        if query.in_flight:
            parts.append(f"(SELECT COUNT(*) FROM {q}.outbox WHERE account = %s "
                         "AND state = 'inflight' AND lease_until > %s)")
            params += [account, now]
        else:
            parts.append("0")
        times, today, in_flight = cur.execute(f"SELECT {', '.join(parts)}", params).fetchone()
        return build_usage(times, today, in_flight, state.bucket)

    def _take(self, cur: psycopg.Cursor, account: str, token: str, worker: str, now: float,
              lease: float, manual: bool, count: int, ids: list[str] | None,
              due_by: float) -> list[tuple]:
        """Claim up to ``count`` messages, "send now" ones or the others, oldest first:
        queued ones due at or before ``due_by`` and those whose lease ran out.

        SKIP LOCKED: a message an operator is cancelling right now is left for later.
        """
        if count <= 0:
            return []
        only = "AND id = ANY(%s)" if ids else ""
        rows = cur.execute(
            f"UPDATE {self._q}.outbox SET state = 'inflight', lease_until = %s, worker = %s, "
            f"claim = %s, claimed_at = %s WHERE seq IN (SELECT seq FROM {self._q}.outbox "
            "WHERE account = %s AND manual = %s AND ((state = 'queued' AND not_before <= %s) "
            f"OR (state = 'inflight' AND lease_until <= %s)) {only} ORDER BY not_before, seq "
            "LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING seq, payload, attempts, manual, route, not_before, critical, batch",
            (now + lease, worker, token, now, account, manual, due_by, now,
             *([ids] if ids else []), count)).fetchall()
        rows.sort()
        return [row[1:] for row in rows]

    def claim(self, account: str, schedule: Schedule, *, limit: int, lease: float,
              worker: str, ids: Collection[str] = ()) -> Claim:
        token = uuid.uuid4().hex
        if limit <= 0:
            return Claim(account, token)
        # A look without the lock first: when the limits let nothing go, as the
        # other workers of a busy account mostly find, no one waits on the row.
        _, _, looked = self._run(lambda cur: self._decide(cur, account, schedule, limit,
                                                          self._state(cur, account)))
        if not looked.manual:
            return Claim(account, token, wake=looked.wake)
        wanted = list(ids) or None

        def work(cur: psycopg.Cursor) -> tuple[float, bool, ClaimPlan, list[tuple]]:
            state = self._lock_account(cur, account)
            self._owners.check(cur, [account], self._clock())
            now, probe, plan = self._decide(cur, account, schedule, limit, state)
            taken = self._take(cur, account, token, worker, now, lease, True, plan.manual,
                               wanted, now)
            taken += self._take(cur, account, token, worker, now, lease, False,
                                plan.total - len(taken), wanted, min(now, plan.released))
            if taken:
                bucket = bucket_after(schedule, state.bucket, datetime.fromtimestamp(now, UTC),
                                      len(taken))
                probing = (token, now + lease) if probe else (state.probe, state.probe_until)
                changed = evolve(state, bucket=bucket, probe=probing[0],
                                 probe_until=probing[1])
                if changed != state:
                    self._save_state(cur, account, changed)
            return now, probe, plan, taken

        now, probe, plan, taken = self._run(work)
        if not taken:
            return Claim(account, token, wake=plan.wake)
        return Claim(account, token, [Claimed(account, payload.load(text), attempts, manual,
                                              route, due, critical, batch)
                                      for text, attempts, manual, route, due, critical, batch
                                      in taken],
                     now + lease, probe)

    def renew(self, token: str, lease: float) -> int:
        def work(cur: psycopg.Cursor) -> int:
            until = self._clock() + lease
            held = cur.execute(f"UPDATE {self._q}.outbox SET lease_until = %s WHERE claim = %s "
                               "AND state = 'inflight'", (until, token)).rowcount
            cur.execute(f"UPDATE {self._q}.account_state SET probe_until = %s WHERE probe = %s",
                        (until, token))
            return held
        return self._run(work)

    # -- results ---------------------------------------------------------------

    def _insert_log(self, cur: psycopg.Cursor, entries: Sequence[LogEntry]) -> None:
        if entries:
            cur.execute(_from_arrays(LOG_COLUMNS, LOG_TYPES, f"{self._q}.delivery_log"),
                        _columns([log_row(e) for e in entries], len(LOG_COLUMNS)))

    def record(self, token: str, dispositions: Sequence[Disposition],
               follow_ups: Sequence[NewMessage] = ()) -> None:
        sent = [(d.message_id, d.provider_id, d.at) for d in dispositions if d.state == "sent"]
        other = [(d.message_id, d.state, d.not_before, int(d.counted), d.error, d.account)
                 for d in dispositions if d.state != "sent"]
        q = self._q

        def work(cur: psycopg.Cursor) -> None:
            now = self._clock()
            self._insert(cur, follow_ups)
            if sent:
                # Sent wins even if the lease ran out meanwhile (and someone then
                # cancelled or claimed the message): it did go. Other outcomes
                # only count while this claim still holds the message.
                cur.execute(f"UPDATE {q}.outbox AS o SET state = 'sent', sent_at = u.at, "
                            "provider_id = u.provider_id, attempts = o.attempts + 1, "
                            "lease_until = NULL, last_error = NULL, claim = NULL "
                            "FROM unnest(%b::text[], %b::text[], %b::float8[]) "
                            "AS u (id, provider_id, at) WHERE o.id = u.id AND o.state != 'sent'",
                            _columns(sent, 3))
            if other:
                cur.execute(f"UPDATE {q}.outbox AS o SET state = u.state, "
                            "not_before = u.not_before, attempts = o.attempts + u.counted, "
                            "lease_until = NULL, last_error = u.error, "
                            "account = COALESCE(u.account, o.account), claim = NULL "
                            "FROM unnest(%b::text[], %b::text[], %b::float8[], %b::int[], "
                            "%b::text[], %b::text[]) "
                            "AS u (id, state, not_before, counted, error, account) "
                            "WHERE o.id = u.id AND o.state = 'inflight' AND o.claim = %s",
                            (*_columns(other, 6), token))
                if any(d.state == "queued" and d.not_before <= now for d in dispositions):
                    self._wake(cur)
            self._insert_log(cur, [d.log for d in dispositions if d.log is not None])

        self._run(work)

    def release(self, token: str, message_ids: Sequence[str]) -> None:
        def work(cur: psycopg.Cursor) -> None:
            if cur.execute(f"UPDATE {self._q}.outbox SET state = 'queued', lease_until = NULL, "
                           "claim = NULL WHERE id = ANY(%s) AND state = 'inflight' "
                           "AND claim = %s", (list(message_ids), token)).rowcount:
                self._wake(cur)
            cur.execute(f"UPDATE {self._q}.account_state SET probe = NULL, probe_until = NULL "
                        "WHERE probe = %s", (token,))
        self._run(work)

    def mark_unreachable(self, account: str, token: str, reason: str, pause: float,
                         pause_max: float) -> float | None:
        def work(cur: psycopg.Cursor) -> float | None:
            state, until = after_unreachable(self._lock_account(cur, account), token,
                                             self._clock(), pause, pause_max)
            if until is None:
                return None
            self._save_state(cur, account, state)
            # A longer pause already in force (throttled, out of credit) stays.
            cur.execute(f"INSERT INTO {self._q}.account_pause AS p VALUES "
                        "(%s, %s, %s, 'unreachable') ON CONFLICT (account) DO UPDATE SET "
                        "until = excluded.until, reason = excluded.reason, kind = excluded.kind "
                        "WHERE p.until < excluded.until", (account, until, reason))
            return until
        return self._run(work)

    def mark_reachable(self, account: str) -> None:
        def work(cur: psycopg.Cursor) -> None:
            state = self._lock_account(cur, account)
            if state != after_reached(state):
                self._save_state(cur, account, after_reached(state))
            if cur.execute(f"DELETE FROM {self._q}.account_pause WHERE account = %s "
                           "AND kind = 'unreachable'", (account,)).rowcount:
                self._wake(cur)
        self._run(work)

    def usage(self, account: str, schedule: Schedule) -> Usage:
        return self._run(lambda cur: self._usage(cur, account, schedule, self._clock(),
                                                 self._state(cur, account)))

    def append_log(self, entries: Sequence[LogEntry]) -> None:
        self._run(lambda cur: self._insert_log(cur, entries))

    def find(self, message_id: str) -> StoredMessage | None:
        rows = self._rows(f"SELECT {STORED_COLUMNS} FROM {self._q}.outbox WHERE id = %s",
                          (message_id,))
        return StoredMessage(*rows[0]) if rows else None

    def find_sent(self, account: str, provider_id: str) -> StoredMessage | None:
        rows = self._rows(f"SELECT {STORED_COLUMNS} FROM {self._q}.outbox WHERE account = %s "
                          "AND provider_id = %s ORDER BY seq DESC LIMIT 1",
                          (account, provider_id))
        return StoredMessage(*rows[0]) if rows else None

    def last_sent_to(self, account: str, recipient: str) -> str | None:
        rows = self._rows(f"SELECT id FROM {self._q}.outbox WHERE account = %s "
                          "AND recipient = %s AND sent_at IS NOT NULL "
                          "ORDER BY sent_at DESC LIMIT 1", (account, recipient))
        return rows[0][0] if rows else None

    def record_report(self, message_id: str, state: str, entry: LogEntry | None) -> None:
        def work(cur: psycopg.Cursor) -> None:
            # Pending only fills a blank; delivered replaces pending; failed replaces all.
            cur.execute(f"UPDATE {self._q}.outbox SET report = %(state)s, report_at = %(at)s "
                        "WHERE id = %(id)s AND (report IS NULL OR (report = 'pending' AND "
                        "%(state)s != 'pending') OR %(state)s = 'failed')",
                        {"state": state, "at": self._clock(), "id": message_id})
            if entry is not None:
                self._insert_log(cur, [entry])
        self._run(work)

    def add_inbox(self, entries: Sequence[InboxEntry], log: Sequence[LogEntry] = (),
                  seen: Sequence[tuple[str, str]] = ()) -> list[bool]:
        insert = (f"INSERT INTO {self._q}.inbox ({', '.join(INBOX_COLUMNS)}) VALUES "
                  f"({', '.join(['%s'] * (len(INBOX_COLUMNS) - 1))}, %s::jsonb) "
                  "ON CONFLICT DO NOTHING")

        def work(cur: psycopg.Cursor) -> list[bool]:
            added = [cur.execute(insert, inbox_row(e)).rowcount == 1 for e in entries]
            self._insert_log(cur, log)
            if seen:
                cur.executemany(f"INSERT INTO {self._q}.mailbox_seen VALUES (%s, %s) "
                                "ON CONFLICT DO NOTHING", seen)
            return added
        return self._run(work)

    def inbox(self, *, account: str | None = None, kind: str | None = None,
              channel: str | None = None, since: float | None = None,
              sender: str | None = None, message_id: str | None = None,
              limit: int | None = None) -> list[InboxEntry]:
        # ILIKE: the same case-blind match as SQLite's LIKE.
        where, params = where_clause({
            "account = %s": account, "kind = %s": kind, "channel = %s": channel,
            "received >= %s": since, "message_id = %s": message_id,
            "sender ILIKE %s": f"%{sender}%" if sender else None})
        tail = f"LIMIT {int(limit)}" if limit else ""
        rows = self._rows(f"SELECT {', '.join(INBOX_COLUMNS)} FROM {self._q}.inbox {where} "
                          f"ORDER BY seq DESC {tail}", params)
        return [inbox_entry(row) for row in rows]

    def set_opt_out(self, change: OptOut) -> bool:
        return self._run(lambda cur: cur.execute(
            f"INSERT INTO {self._q}.opt_out AS o VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (scope, address) DO UPDATE SET opted_out = excluded.opted_out, "
            "at = excluded.at, account = excluded.account, keyword = excluded.keyword "
            "WHERE excluded.at >= o.at",
            (change.scope, change.address, change.opted_out, change.at, change.account,
             change.keyword)).rowcount == 1)

    def opted_out(self, scope: str, address: str) -> OptOut | None:
        return self.opted_out_among(scope, [address]).get(address)

    def opted_out_among(self, scope: str, addresses: Sequence[str]) -> dict[str, OptOut]:
        rows = self._rows(f"SELECT {OPT_OUT_COLUMNS} FROM {self._q}.opt_out WHERE scope = %s "
                          "AND opted_out AND address = ANY(%s)", (scope, sorted(set(addresses))))
        return {found.address: found for found in map(opt_out, rows)}

    def opt_outs(self, scope: str | None = None) -> list[OptOut]:
        where, params = where_clause({"scope = %s": scope, "opted_out = %s": True})
        rows = self._rows(f"SELECT {OPT_OUT_COLUMNS} FROM {self._q}.opt_out {where} "
                          "ORDER BY at DESC", params)
        return [opt_out(row) for row in rows]

    def reroute(self, account: str, route: str, to_account: str) -> int:
        def work(cur: psycopg.Cursor) -> int:
            moved = cur.execute(f"UPDATE {self._q}.outbox SET account = %s WHERE account = %s "
                                "AND route = %s AND state = 'queued'",
                                (to_account, account, route)).rowcount
            if moved:
                self._wake(cur)
            return moved
        return self._run(work)

    # -- reading ---------------------------------------------------------------

    def pending(self, account: str, skip_keys: Collection[str] = ()) -> list[Message]:
        # In-flight messages are left out: the provider may have charged them already.
        rows = self._rows(f"SELECT idempotency_key, payload FROM {self._q}.outbox "
                          "WHERE account = %s AND state = 'queued' ORDER BY seq", (account,))
        skip = set(skip_keys)
        return [payload.load(text) for key, text in rows if key not in skip]

    # -- operators' changes ----------------------------------------------------

    def cancel(self, now: float, ids: Collection[str] = (), account: str | None = None,
               note: Note = None, batch: str | None = None) -> list[Handled]:
        # The same test as claim's: what no worker holds may be cancelled.
        return self._change(
            ids, account, note, batch=batch,
            movable=("state = 'queued' OR (state = 'inflight' AND lease_until <= %s)", (now,)),
            reach="state IN ('queued', 'inflight')",
            update=("state = 'cancelled', not_before = %s, lease_until = NULL, worker = NULL, "
                    "claim = NULL", (now,)))

    def requeue(self, now: float, ids: Collection[str] = (), account: str | None = None,
                note: Note = None) -> list[Handled]:
        return self._change(
            ids, account, note, movable=("state = 'dead'", ()), reach="state = 'dead'",
            update=("state = 'queued', not_before = %s, attempts = 0, last_error = NULL, "
                    "lease_until = NULL, worker = NULL, claim = NULL", (now,)), wake=True)

    def _change(self, ids: Collection[str], account: str | None, note: Note,
                movable: tuple[str, Sequence], reach: str, update: tuple[str, Sequence],
                wake: bool = False, batch: str | None = None) -> list[Handled]:
        """Apply ``update`` to the chosen messages that match ``movable``; log each.

        ``ids`` choose by id (those of another account than ``account`` are
        left); without them, ``batch``'s or ``account``'s messages matching
        ``reach``. The
        rows are locked in the order of their ids, as every change of several
        messages takes them, so two operators' changes never deadlock.
        """
        condition, condition_params = movable
        select = ("SELECT seq, id, account, recipient, summary, state, attempts, provider_id, "
                  f"({condition}) FROM {self._q}.outbox WHERE ")
        named = list(dict.fromkeys(ids))

        def work(cur: psycopg.Cursor) -> tuple[list[tuple], list[tuple]]:
            if named:
                rows = cur.execute(f"{select}id = ANY(%s) ORDER BY id FOR UPDATE",
                                   (*condition_params, named)).fetchall()
            elif batch is not None:
                rows = cur.execute(f"{select}batch = %s AND ({reach}) ORDER BY id FOR UPDATE",
                                   (*condition_params, batch)).fetchall()
            else:
                rows = cur.execute(f"{select}account = %s AND ({reach}) ORDER BY id FOR UPDATE",
                                   (*condition_params, account)).fetchall()
            rows.sort()
            chosen = [row for row in rows if row[-1] and account in (None, row[2])]
            changes, params = update
            cur.execute(f"UPDATE {self._q}.outbox SET {changes} WHERE seq = ANY(%s)",
                        (*params, [row[0] for row in chosen]))
            if note is not None:
                self._insert_log(cur, [note(StoredMessage(*row[1:-1])) for row in chosen])
            if wake and chosen:
                self._wake(cur)
            return rows, chosen

        rows, chosen = self._run(work)
        return handled(rows, {row[0] for row in chosen}, named)

    def pause(self, account: str, until: float, reason: str) -> None:
        self._run(lambda cur: cur.execute(
            f"INSERT INTO {self._q}.account_pause VALUES (%s, %s, %s, 'pause') "
            "ON CONFLICT (account) DO UPDATE SET until = excluded.until, "
            "reason = excluded.reason, kind = excluded.kind", (account, until, reason)))

    def pauses(self, now: float) -> dict[str, AccountPause]:
        rows = self._rows(f"SELECT account, until, reason, kind FROM {self._q}.account_pause "
                          "WHERE until > %s", (now,))
        return {row[0]: AccountPause(*row) for row in rows}

    def queue(self, now: float, since: float) -> list[QueueRow]:
        def read(cur: psycopg.Cursor) -> list[tuple]:
            # Its many small index reads are estimated dear enough for PostgreSQL to
            # compile the query (JIT): 200 ms of compiling for 20 ms of reading.
            cur.execute("SET LOCAL jit = off")
            return cur.execute(queue_query(f"{self._q}.outbox", "%s"),
                               (now, now, since, now)).fetchall()

        rows = self._run(read)
        return [QueueRow(*row) for row in rows]

    def dead(self, account: str | None = None) -> list[tuple[str, str, str | None]]:
        where, params = ("AND account = %s", (account,)) if account else ("", ())
        return self._rows(f"SELECT id, account, last_error FROM {self._q}.outbox "
                          f"WHERE state = 'dead' {where} ORDER BY seq", params)

    def log(self, *, account: str | None = None, outcome: str | None = None,
            since: float | None = None, recipient: str | None = None,
            message_id: str | None = None, limit: int | None = None,
            batch: str | None = None) -> list[LogEntry]:
        # ILIKE: the same case-blind match as SQLite's LIKE.
        where, params = log_filters("%s", "ILIKE", f"{self._q}.outbox", account=account,
                                    outcome=outcome, since=since, recipient=recipient,
                                    message_id=message_id, batch=batch)
        tail = f"LIMIT {int(limit)}" if limit else ""
        rows = self._rows(f"SELECT {', '.join(LOG_COLUMNS)} FROM {self._q}.delivery_log "
                          f"{where} ORDER BY seq DESC {tail}", params)
        return [log_entry(row) for row in rows]

    def clear_log(self, before: float | None = None) -> int:
        if before is None:
            return self._run(lambda cur: cur.execute(
                f"DELETE FROM {self._q}.delivery_log").rowcount)
        return self._run(lambda cur: cur.execute(
            f"DELETE FROM {self._q}.delivery_log WHERE at < %s", (before,)).rowcount)

    def prune(self, before: float) -> int:
        query = prune_query(f"{self._q}.outbox", "%s", lock="FOR UPDATE SKIP LOCKED")
        return prune_in_chunks(lambda: self._run(
            lambda cur: cur.execute(query, (before, before)).rowcount))

    def recurring_last(self, name: str) -> float | None:
        rows = self._rows(f"SELECT last FROM {self._q}.recurring WHERE name = %s", (name,))
        return rows[0][0] if rows else None

    def set_recurring_last(self, name: str, at: float) -> None:
        self._run(lambda cur: cur.execute(
            f"INSERT INTO {self._q}.recurring VALUES (%s, %s) ON CONFLICT (name) "
            "DO UPDATE SET last = excluded.last", (name, at)))

    def seen_mail(self, account: str) -> set[str]:
        return {key for (key,) in self._rows(f"SELECT key FROM {self._q}.mailbox_seen "
                                             "WHERE account = %s", (account,))}

    def forget_mail(self, account: str, keep: Collection[str]) -> int:
        return self._run(lambda cur: cur.execute(
            f"DELETE FROM {self._q}.mailbox_seen WHERE account = %s AND NOT key = ANY(%s)",
            (account, list(keep))).rowcount)

    def account_states(self) -> dict[str, AccountState]:
        rows = self._rows(f"SELECT account, {', '.join(STATE_COLUMNS)} "
                          f"FROM {self._q}.account_state")
        return {row[0]: AccountState(*row[1:]) for row in rows}

    def _change_state(self, account: str, change: Callable[[AccountState, float],
                                                           AccountState]) -> AccountState:
        """Apply ``change`` (given the state and the store's time) to the account's
        state under its row lock; the state as it was before."""
        def work(cur: psycopg.Cursor) -> AccountState:
            before = self._lock_account(cur, account)
            after = change(before, self._clock())
            if after != before:
                self._save_state(cur, account, after)
                if after.enabled and not before.enabled:
                    self._wake(cur)
            return before
        return self._run(work)

    def switch(self, account: str, enabled: bool, reason: str = "", by: str = "") -> bool:
        before = self._change_state(account, lambda state, now: switched(
            state, enabled, now, reason, by))
        return before.enabled != enabled

    def reset_counter(self, account: str) -> float:
        now = self._clock()
        self._change_state(account, lambda state, _: evolve(state, counted_from=now))
        return now

    def sent_since(self, account: str, since: float) -> int:
        return self._rows(f"SELECT COUNT(*) FROM {self._q}.outbox WHERE account = %s "
                          "AND sent_at >= %s", (account, since))[0][0]

    def flush(self, account: str) -> int:
        def work(cur: psycopg.Cursor) -> int:
            now = self._clock()
            flushed = cur.execute(
                f"UPDATE {self._q}.outbox SET manual = true, "
                "not_before = LEAST(not_before, %s) WHERE account = %s AND state = 'queued' "
                "AND (not_before <= %s OR attempts > 0)", (now, account, now)).rowcount
            if flushed:
                self._wake(cur)
            return flushed
        return self._run(work)

    def note_credit(self, account: str, low: bool) -> bool:
        before = self._change_state(account, lambda state, now: credit_noted(state, low, now))
        return low and before.low_credit_at is None

    def take_mailbox_read(self, account: str, due: float) -> bool:
        before = self._change_state(account, lambda state, now: mailbox_taken(state, due, now))
        return before.mailbox_read_at is None or before.mailbox_read_at < due

    def batches(self, now: float, batch: str | None = None,
                since: float | None = None) -> list[BatchRow]:
        q = self._q
        if batch is not None:
            where, params = "batch = %s", (batch,)
        else:
            where = (f"batch IN (SELECT DISTINCT batch FROM {q}.outbox WHERE batch IS NOT NULL "
                     "AND (state IN ('queued', 'inflight') OR created >= %s))")
            params = (math.inf if since is None else since,)

        def work(cur: psycopg.Cursor) -> list[BatchRow]:
            rows = cur.execute(
                "SELECT batch, account, COUNT(*) FILTER (WHERE state = 'sent'), "
                "COUNT(*) FILTER (WHERE state = 'dead'), "
                "COUNT(*) FILTER (WHERE state = 'queued' AND not_before <= %s), "
                "COUNT(*) FILTER (WHERE state = 'queued' AND not_before > %s), "
                "COUNT(*) FILTER (WHERE state = 'inflight'), "
                "COUNT(*) FILTER (WHERE state = 'cancelled'), MIN(created), "
                "MIN(not_before) FILTER (WHERE state IN ('queued', 'inflight')), "
                "MAX(not_before) FILTER (WHERE state IN ('queued', 'inflight')) "
                f"FROM {q}.outbox WHERE {where} GROUP BY batch, account ORDER BY MIN(seq)",
                (now, now, *params)).fetchall()
            found = []
            for row in rows:
                last_due = row[-1]
                ahead = 0 if last_due is None else cur.execute(
                    f"SELECT COUNT(*) FROM {q}.outbox WHERE account = %s AND state IN "
                    "('queued', 'inflight') AND not_before <= %s",
                    (row[1], last_due)).fetchone()[0]
                found.append(BatchRow(*row, ahead=ahead))
            return found
        return self._run(work)

    def beat(self, worker: WorkerSeen) -> None:
        self._run(lambda cur: cur.execute(
            f"INSERT INTO {self._q}.workers VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET accounts = excluded.accounts, "
            "sent = excluded.sent, dead = excluded.dead, seen = excluded.seen",
            (worker.id, worker.host, worker.pid, worker.started,
             json.dumps(list(worker.accounts)), worker.sent, worker.dead, self._clock())))

    def workers(self) -> list[WorkerSeen]:
        rows = self._rows(f"SELECT id, host, pid, started, accounts, sent, dead, seen "
                          f"FROM {self._q}.workers ORDER BY started")
        return [WorkerSeen(*row) for row in rows]

    def forget_workers(self, ids: Collection[str]) -> None:
        self._run(lambda cur: cur.execute(f"DELETE FROM {self._q}.workers WHERE id = ANY(%s)",
                                          (list(ids),)))

    def activity(self, now: float, dead_since: float) -> list[AccountActivity]:
        # A dead message keeps the time of its last try in not_before (see record).
        rows = self._rows(
            "SELECT account, COUNT(*) FILTER (WHERE state IN ('queued', 'inflight')), "
            "COUNT(*) FILTER (WHERE state = 'queued' AND not_before <= %s), "
            "MIN(not_before) FILTER (WHERE state = 'queued' AND not_before <= %s), "
            "MAX(claimed_at), COUNT(*) FILTER (WHERE state = 'dead' AND not_before >= %s) "
            f"FROM {self._q}.outbox GROUP BY account ORDER BY account",
            (now, now, dead_since))
        return [AccountActivity(*row) for row in rows]

    def note_credits(self, account: str, credits: Credits, at: float) -> None:
        low = None if credits.low_threshold is None else str(credits.low_threshold)
        self._run(lambda cur: cur.execute(
            f"INSERT INTO {self._q}.account_credits AS c VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (account) DO UPDATE SET balance = excluded.balance, "
            "unit = excluded.unit, low_threshold = excluded.low_threshold, at = excluded.at "
            "WHERE excluded.at >= c.at", (account, str(credits.balance), credits.unit, low, at)))

    def credit_readings(self) -> dict[str, CreditReading]:
        rows = self._rows(f"SELECT account, balance, unit, low_threshold, at "
                          f"FROM {self._q}.account_credits ORDER BY account")
        return {account: CreditReading(account, Decimal(balance), unit,
                                       None if low is None else Decimal(low), at)
                for account, balance, unit, low, at in rows}

    def wait_for_work(self, timeout: float, stop: threading.Event | None = None) -> None:
        self._wakeup.wait(timeout, stop or threading.Event())

    def owners(self) -> dict[str, AccountIdentity]:
        """What the outbox records of each account that queued or sent through it."""
        return self._run(self._owners.recorded)

    def adopt(self, accounts: Collection[str]) -> list[str]:
        """Record the configuration's ``accounts`` as this outbox's, so their waiting
        messages go as that configuration says; returns the accounts recorded."""
        return self._run(lambda cur: self._owners.adopt(cur, accounts, self._clock()))

    def close(self) -> None:
        self._pool.close()
        self._wakeup.close()
