"""The outbox database knows itself: which file it is, and which configuration owns it.

**The file.** SQLite goes on reading and writing a database file through the
handle it opened, even after someone deleted, replaced or emptied the file:
a worker then works on a ghost while new messages land in a fresh file it
never sees. ``StoreFile`` remembers the file's device and inode when the
store opens it and checks, before every query, that the path still leads to
that file and that it still starts with SQLite's header; if not, the store
stops with a ``StoreError`` that says what happened.

**The owner.** Two configurations pointed at one database would send each
other's messages: one's worker sends the other's mail under its own sender,
or as SMS through an account of the same name. The store records, for each
account that queues or sends through it, its channel and who it sends as
(``ProviderConfig.sends_as()``). A configuration whose account differs from
the record is refused as long as the account has messages waiting that were
queued under the record; with none waiting the record simply follows the
configuration. ``adopt`` rewrites the record on purpose (an account whose
sender changed while messages waited).

``check_path`` refuses, before SQLite opens it, a path that cannot be an
outbox: a folder, a file under a file, a file that is not a database.

``Owners`` serves both stores: it is given a connection (SQLite's) or a
cursor (psycopg's), and ``OwnerTables`` says how that database names the
table and marks a parameter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from postroom.errors import StoreError
from postroom.files import file_kind

HEADER = b"SQLite format 3\x00"
"""The first bytes of every SQLite database file."""

OWNERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t}store_accounts (
    account TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    sends_as TEXT,
    recorded DOUBLE PRECISION NOT NULL
)"""


@frozen
class OwnerTables:
    """How a database names the owners' tables (``prefix``: PostgreSQL's schema,
    quoted, and a dot) and marks a parameter (``mark``)."""

    prefix: str = ""
    mark: str = "?"

    def sql(self, text: str) -> str:
        return text.replace("{t}", self.prefix).replace("?", self.mark)


@frozen
class AccountIdentity:
    """What an account's messages are: ``channel`` (email, sms), and ``sends_as``,
    the sender they go out under (None when the provider does not say)."""

    channel: str
    sends_as: str | None = None

    def describe(self) -> str:
        return self.channel + (f" as {self.sends_as}" if self.sends_as else "")


def check_path(path: Path) -> None:
    """Refuse, before SQLite opens it, a store path that cannot be a database file."""
    folder = next((p for p in path.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise StoreError(f"the outbox database {path} cannot be made: {folder} is a file, "
                         "not a folder; check [store] path", usage=True)
    kind = file_kind(path)
    if kind is not None:
        raise StoreError(f"the outbox database path {path} is {kind}, not a file: set "
                         '[store] path to a file name such as "postroom.db"', usage=True)
    try:
        with open(path, "rb") as handle:
            start = handle.read(len(HEADER))
    except FileNotFoundError:
        return  # a new store
    except OSError as exc:
        raise StoreError(f"cannot read the outbox database {path}: "
                         f"{exc.strerror or type(exc).__name__}; give the user postroom runs "
                         "as access to it", usage=True) from None
    if start and start != HEADER:
        raise StoreError(f"{path} is not an SQLite database, so not a postroom outbox: point "
                         "[store] path at the outbox file, or at a new file name", usage=True)


class StoreFile:
    """The database file a store opened, checked before each query (see the module)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        info = os.fstat(self._fd)
        self._identity = (info.st_dev, info.st_ino)

    def check(self, header: bool = True) -> None:
        """Raise ``StoreError`` unless ``path`` is still the file opened, whole.

        ``header=False`` (for reads) trusts a file of a database's size to start
        as one, and saves reading it: a write checks it before it commits anything.
        """
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            raise self._gone("was deleted") from None
        if (info.st_dev, info.st_ino) != self._identity:
            raise self._gone("was replaced by another file")
        if info.st_size < len(HEADER) or (
                header and os.pread(self._fd, len(HEADER), 0) != HEADER):
            raise self._gone("was emptied or overwritten")

    def _gone(self, what: str) -> StoreError:
        return StoreError(f"the outbox database {self.path} {what} while postroom was running; "
                          "stopping so that nothing is written where no worker looks. Restore "
                          "the file from a backup if it was a mistake, then start postroom "
                          "again (it starts a new, empty outbox if there is no file)")

    def close(self) -> None:
        if self._fd >= 0:  # a store may be closed twice, as its connection may
            os.close(self._fd)
            self._fd = -1


class Owners:
    """The store's record of its accounts (see the module); ``accounts`` is what the
    configuration using the store says of each, empty for a store used without one.
    ``db`` in each method is a connection or cursor inside the store's transaction."""

    def __init__(self, accounts: Mapping[str, AccountIdentity],
                 tables: OwnerTables = OwnerTables()) -> None:
        self.accounts = dict(accounts)
        self.tables = tables

    def _run(self, db: Any, text: str, params: tuple = ()) -> Any:
        return db.execute(self.tables.sql(text), params)

    def start(self, db: Any, now: float) -> None:
        """Make the record's table; an outbox with no record yet (new, or made before
        records were kept) belongs to the configuration that opens it."""
        self._run(db, OWNERS_SCHEMA)
        if self._run(db, "SELECT 1 FROM {t}store_accounts LIMIT 1").fetchone() is None:
            for name, identity in self.accounts.items():
                self._record(db, name, identity, now)

    def check(self, db: Any, names: Iterable[str], now: float) -> None:
        """Before queuing or claiming messages of ``names``, inside the write
        transaction: record accounts new to the store, follow a changed account
        that has nothing waiting, refuse one that has."""
        for name in dict.fromkeys(names):
            mine = self.accounts.get(name)
            if mine is None:
                continue  # an account this configuration does not describe
            row = self._run(db, "SELECT channel, sends_as FROM {t}store_accounts "
                            "WHERE account = ?", (name,)).fetchone()
            if row is not None and AccountIdentity(*row) == mine:
                continue
            waiting = self._run(db, "SELECT COUNT(*) FROM {t}outbox WHERE account = ? AND "
                                "state IN ('queued', 'inflight')", (name,)).fetchone()[0]
            if row is not None and waiting:
                raise StoreError(_conflict(name, AccountIdentity(*row), mine, waiting),
                                 usage=True)
            self._record(db, name, mine, now)

    def recorded(self, db: Any) -> dict[str, AccountIdentity]:
        """The accounts the store has recorded, by name."""
        rows = self._run(db, "SELECT account, channel, sends_as FROM {t}store_accounts "
                         "ORDER BY account").fetchall()
        return {name: AccountIdentity(channel, sends_as) for name, channel, sends_as in rows}

    def adopt(self, db: Any, names: Iterable[str], now: float) -> list[str]:
        """Record this configuration's accounts ``names`` as the store's, whatever
        was recorded; returns the names recorded."""
        chosen = [name for name in names if name in self.accounts]
        for name in chosen:
            self._record(db, name, self.accounts[name], now)
        return chosen

    def _record(self, db: Any, name: str, identity: AccountIdentity, now: float) -> None:
        self._run(db, "INSERT INTO {t}store_accounts VALUES (?, ?, ?, ?) ON CONFLICT (account) "
                  "DO UPDATE SET channel = excluded.channel, sends_as = excluded.sends_as, "
                  "recorded = excluded.recorded", (name, identity.channel, identity.sends_as, now))


def _conflict(name: str, recorded: AccountIdentity, mine: AccountIdentity, waiting: int) -> str:
    messages = "1 message waits" if waiting == 1 else f"{waiting} messages wait"
    return (f"accounts.{name}: {messages} in this outbox, queued to go by "
            f"{recorded.describe()}, but this configuration's {name} sends "
            f"{mine.describe()}: another configuration seems to share the database. Give each "
            "configuration its own [store] path; if this one replaces the old on purpose, run "
            f"`postroom store adopt {name}` to send the waiting messages as it says")
