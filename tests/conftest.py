"""Fixtures for core tests: the echo test provider, fake installed distributions, a CA,
and the two stores (SQLite, PostgreSQL) tests of the outbox run against."""

from __future__ import annotations

import itertools
import os
import sqlite3
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import trustme

from postroom.plugins import PluginRegistry
from postroom.store import open_store

# pytester runs the test mode for apps (postroom's pytest plugin) in app projects of its own.
pytest_plugins = ["pytester"]

ECHO_PROJECT = Path(__file__).parent / "fixtures" / "postroom-echo"
ACME_PROJECT = Path(__file__).parent / "fixtures" / "postroom-acme"

pytest_plugins = ["pytester"]

# The test providers' packages are imported by path, as a plugin under test would be.
for project in (ECHO_PROJECT, ACME_PROJECT):
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))


@pytest.fixture
def echo():
    import postroom_echo

    postroom_echo.SENT.clear()
    return postroom_echo


@pytest.fixture
def registry(echo) -> PluginRegistry:
    """Built-ins plus the echo plugin registered in code; no entry points."""
    reg = PluginRegistry(entry_points=False, environ={})
    reg.register(echo, ["echo"], distribution="postroom-echo", version="1.0")
    return reg


@pytest.fixture
def echo_settings() -> dict:
    return {"provider": "echo", "host": "echo.example.org", "sender": "desk@example.org",
            "api_secret": {"env": "ECHO_SECRET"}}


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Make fake installed distributions whose entry points importlib.metadata finds.

    ``installed("acme-sms", {"acme": "acme_module"}, modules={"acme_module": "code"})``
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(dist: str, entry_points: dict[str, str], modules: dict[str, str] | None = None,
                version: str = "1.0") -> None:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[postroom]\n{lines}")
        for module, code in (modules or {}).items():
            (site / f"{module}.py").write_text(code)

    install.site = site
    return install


#: The echo account worker processes send through, under [accounts.desk].
ECHO_ACCOUNT = """
[accounts.desk]
provider = "echo"
host = "echo.example.org"
sender = "desk@example.org"
"""


@pytest.fixture
def echo_processes(installed, tmp_path):
    """For tests that run ``postroom`` processes with the echo provider installed:
    ``config, env = echo_processes(settings, account="api_secret = ...")`` writes
    postroom.toml (the outbox in outbox.db, ``settings`` and the echo account
    ``desk``, with ``account`` added) and gives the environment the processes
    find the plugin with."""
    installed("postroom-echo", {"echo": "postroom_echo"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed.site), str(ECHO_PROJECT)])}

    def write(settings: str, account: str = 'api_secret = "x"') -> tuple[Path, dict]:
        config = tmp_path / "postroom.toml"
        config.write_text(f'[store]\npath = "outbox.db"\n{settings}\n{ECHO_ACCOUNT}{account}\n')
        return config, env

    return write


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority for the loopback TLS servers."""
    return trustme.CA()


MAILBOX_USER, MAILBOX_PASSWORD = "desk", "Dovecot-Mailbox-Pass-4"


@pytest.fixture
def dovecot(ca):
    """A private Dovecot (IMAP and POP3, certificate from ``ca``) with one mailbox,
    ``MAILBOX_USER``'s."""
    from loopback.dovecot import running_dovecot

    with running_dovecot(ca, {MAILBOX_USER: MAILBOX_PASSWORD}) as server:
        yield server
# PostgreSQL ------------------------------------------------------------------------------

POSTGRES_VARIABLE = "POSTROOM_TEST_POSTGRES"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
STORES = ["sqlite", "postgres"]
#: Every schema this run makes starts with this, so runs never see each other's rows.
RUN_PREFIX = f"t{uuid.uuid4().hex[:10]}"
_schemas = itertools.count()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server the tests use; they fail (not skip) without one."""
    url = os.environ.get(POSTGRES_VARIABLE, DEFAULT_POSTGRES)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is not reachable at {url} ({exc}); the store tests run on "
                    f"both stores: start PostgreSQL, or set {POSTGRES_VARIABLE} to the URL "
                    "of one you may make and drop schemas in", pytrace=False)
    return url


@pytest.fixture
def pg_schema(postgres_url) -> str:
    """A schema of this test's own, dropped after it."""
    name = f"{RUN_PREFIX}_{next(_schemas)}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def pg_store_settings(postgres_url, pg_schema, monkeypatch) -> dict:
    """``[store]`` settings for a PostgreSQL outbox of this test's own.

    Every ``PostgresStore`` the test opens in this process is closed after it,
    engines left open included, so no test keeps connections to the shared
    server.
    """
    from postroom.store.postgres import PostgresStore

    opened = []
    original = PostgresStore.__init__

    def tracked(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(PostgresStore, "__init__", tracked)
    yield {"url": postgres_url, "schema": pg_schema}
    for store in opened:
        store.close()


@pytest.fixture(params=STORES)
def store_settings(request, tmp_path) -> dict:
    """The ``[store]`` table of a config, once for each store."""
    if request.param == "sqlite":
        return {"path": str(tmp_path / "outbox.db")}
    return request.getfixturevalue("pg_store_settings")


class Clock:
    """A clock the test sets: ``now`` is what every store or engine given it reads."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def read_rows(settings: dict, query: str) -> list[tuple]:
    """``query`` on the outbox of ``store_settings``, straight from its database, for
    checks no ``Store`` method answers; ``{schema}`` before a table names its schema."""
    if "url" not in settings:
        with sqlite3.connect(settings["path"]) as db:
            return db.execute(query.format(schema="")).fetchall()
    with psycopg.connect(settings["url"]) as conn:
        return conn.execute(query.format(schema=f'"{settings["schema"]}".')).fetchall()


def store_toml(settings: dict) -> str:
    """``store_settings`` as the ``[store]`` table of a ``postroom.toml``."""
    return "[store]\n" + "".join(f"{key} = {value!r}\n".replace("'", '"')
                                  for key, value in settings.items())


@pytest.fixture
def open_stores(store_settings, tmp_path):
    """``open_stores(n)``: n connections to one new outbox, closed after the test."""
    from postroom.config import StoreSettings
    from postroom.secrets import Secret

    made = []

    def open_(count: int = 1, clock=None, **extra):
        values = {**store_settings, **extra}
        if "url" in values:
            values["url"] = Secret(values["url"])
        settings = StoreSettings(**{"path": tmp_path / "outbox.db", **values})
        stores = [open_store(settings, **({"clock": clock} if clock else {}))
                  for _ in range(count)]
        made.extend(stores)
        return stores

    yield open_
    for store in made:
        store.close()
