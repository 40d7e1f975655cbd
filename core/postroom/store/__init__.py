"""The outbox and the delivery log, behind one narrow interface.

``Store`` is what the engine needs from storage; ``SQLiteStore`` is the
embedded default, ``PostgresStore`` (in ``postroom.store.postgres``, with the
``postgres`` extra) the one workers on several hosts share. ``open_store``
opens the one a config names.
"""

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
    Store,
    StoredMessage,
)
from postroom.store.opening import open_store
from postroom.store.sqlite import SQLiteStore

__all__ = ["AccountPause", "Claim", "Claimed", "Disposition", "Handled", "LogEntry", "NewMessage",
           "Note", "QueueRow", "SQLiteStore", "Store", "StoredMessage", "open_store"]
