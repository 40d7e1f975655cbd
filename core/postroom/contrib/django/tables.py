"""Where the admin finds postroom's tables, and whether it may show them.

Read from the settings when Django starts, without opening the store or a
database connection (``manage.py`` commands run where no database is
reachable, and Django warns about queries while apps load).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import connections

from postroom.config import find_config_file, read_config_file
from postroom.contrib.django.backend import shared_connection
from postroom.contrib.django.conf import DjangoSettings
from postroom.contrib.django.engine import engine
from postroom.errors import ConfigError
from postroom.store.schema import DEFAULT_SCHEMA, SCHEMA_NAME


def written_store() -> Mapping[str, object]:
    """The ``[store]`` table as written; empty when the configuration cannot be
    read (``manage.py check`` names the problem: postroom.E001)."""
    try:
        chosen = DjangoSettings.read()
        data = chosen.config if isinstance(chosen.config, Mapping) \
            else read_config_file(find_config_file(chosen.config))
    except ConfigError:
        return {}
    store = data.get("store")
    return store if isinstance(store, Mapping) else {}


def schema() -> str:
    """The store's schema as written (``DEFAULT_SCHEMA`` when it says none)."""
    written = written_store().get("schema", DEFAULT_SCHEMA)
    # A bad name is the store's to refuse (postroom.E001); it never reaches SQL here.
    if not (isinstance(written, str) and SCHEMA_NAME.fullmatch(written)):
        return DEFAULT_SCHEMA
    return written


def table(in_schema: str, name: str) -> str:
    """``Meta.db_table`` for one of the store's tables in ``in_schema``: Django's
    PostgreSQL backend leaves a name already quoted as it is, so
    ``schema"."name`` comes out as ``"schema"."name"``."""
    return f'{in_schema}"."{name}'


def database() -> str:
    """The alias of Django's database postroom's store may share (``POSTROOM_DATABASE``)."""
    alias = DjangoSettings.read().database
    if alias not in settings.DATABASES:
        raise ConfigError([("POSTROOM_DATABASE", f"no database {alias!r} in DATABASES: name "
                                                 f"one of {sorted(settings.DATABASES)}")])
    return alias


def may_share() -> bool:
    """Whether the store may be in Django's database, by the settings alone: both
    are PostgreSQL. ``shares()`` tells for sure once a request needs it."""
    return "url" in written_store() and connections[database()].vendor == "postgresql"


def shares() -> bool:
    """Whether the outbox is in Django's database: the email backend's own test
    (the same server and database, Django on psycopg 3). A broken configuration
    hides the pages rather than breaking the whole admin; ``manage.py check``
    names its problem (postroom.E001)."""
    try:
        return shared_connection(engine(), database()) is not None
    except ConfigError:
        return False
