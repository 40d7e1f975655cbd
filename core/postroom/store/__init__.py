"""The outbox and the delivery log, behind one narrow interface.

``Store`` is what the engine needs from storage; ``SQLiteStore`` is the
embedded default. A server database can implement the same methods for
several workers on several hosts.
"""

from postroom.store.accounting import AccountState
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
from postroom.store.sqlite import SQLiteStore

__all__ = ["AccountPause", "AccountState", "BatchRow", "Claim", "Claimed", "Disposition",
           "Handled", "InboxEntry", "LogEntry", "NewMessage", "Note", "OptOut", "QueueRow",
           "SQLiteStore", "Store", "StoredMessage"]
