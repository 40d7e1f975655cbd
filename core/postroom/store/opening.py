"""Opening the store a config names: the SQLite file, or the PostgreSQL database."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from postroom.errors import StoreError
from postroom.store.identity import AccountIdentity
from postroom.store.interface import Store
from postroom.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from postroom.config import StoreSettings

POSTGRES_EXTRA = 'pip install "postroom[postgres]"'


def open_store(settings: StoreSettings, clock: Callable[[], float] = time.time,
               upgrade: bool = False,
               owners: Mapping[str, AccountIdentity] | None = None) -> Store:
    """The store of ``[store]``: PostgreSQL when ``url`` is set, else the SQLite ``path``.

    ``upgrade`` brings an older store's tables up to date; without it such a
    store raises ``StoreError`` saying what to run. ``owners`` are the
    configuration's accounts, which the outbox checks its record against
    (``postroom.store.identity``).
    """
    if settings.url is None:
        return SQLiteStore(settings.path, settings.durability, clock, settings.busy_timeout,
                           upgrade, owners)
    try:
        from postroom.store.postgres import PostgresStore
    except ImportError as exc:
        # A StoreError, not a ConfigError: the store opens at its first use, after
        # the config was read, where every command turns a StoreError into its message.
        raise StoreError(f"store.url: a PostgreSQL store needs {exc.name or 'psycopg'}, which "
                         f"is not installed: {POSTGRES_EXTRA}", usage=True) from None
    return PostgresStore(settings.url.reveal(), settings.schema, settings.durability, clock,
                         upgrade, owners=owners)
