"""The outbox and the delivery log, behind one narrow interface.

``Store`` is what the engine needs from storage; ``SQLiteStore`` is the
embedded default. A server database can implement the same methods for
several workers on several hosts.
"""

from postroom.store.identity import AccountIdentity
from postroom.store.interface import (
    AccountPause,
    Claimed,
    Disposition,
    Handled,
    LogEntry,
    NewMessage,
    Note,
    QueueRow,
    Store,
    StoredMessage,
)
from postroom.store.sqlite import SQLiteStore

__all__ = ["AccountIdentity", "AccountPause", "Claimed", "Disposition", "Handled", "LogEntry",
           "NewMessage", "Note", "QueueRow", "SQLiteStore", "Store", "StoredMessage"]
