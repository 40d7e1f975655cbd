"""The outbox and the delivery log, behind one narrow interface.

``Store`` is what the engine needs from storage; ``SQLiteStore`` is the
embedded default, ``PostgresStore`` (in ``postroom.store.postgres``, with the
``postgres`` extra) the one workers on several hosts share. ``open_store``
opens the one a config names.
"""

from postroom.store.accounting import AccountState
from postroom.store.identity import AccountIdentity
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
    Store,
    StoredMessage,
)
from postroom.store.opening import open_store
from postroom.store.sqlite import SQLiteStore

__all__ = ["AccountIdentity", "AccountPause", "AccountState", "BatchRow", "Claim", "Claimed",
           "Disposition", "Handled", "InboxEntry", "LogEntry", "NewMessage", "Note", "OptOut",
           "QueueRow", "SQLiteStore", "Store", "StoredMessage", "open_store"]
