"""``postroom store``: the outbox itself: upgraded, copied to PostgreSQL, backed up
safely while workers run, and which configuration it takes its accounts from.

The outbox records, per account, the channel and sender its messages were
queued under (see ``postroom.store.identity``). ``postroom store`` shows that
record beside this configuration's accounts; ``postroom store adopt`` makes
this configuration's accounts the record, so messages already waiting go as
it says.
"""

from __future__ import annotations

import stat
from pathlib import Path

import click

from postroom.cli import (
    EXIT_FAILED,
    EXIT_USAGE,
    Context,
    emit,
    fail,
    json_option,
    pass_context,
    with_group_json,
)
from postroom.errors import ConfigError, StoreError
from postroom.store.identity import HEADER
from postroom.store.opening import open_store
from postroom.store.schema import DEFAULT_SCHEMA
from postroom.store.sqlite import SQLiteStore


@click.group("store", invoke_without_command=True)
@json_option
@click.pass_context
def store(ctx: click.Context, as_json: bool) -> None:
    """The outbox: which sender each account's queued messages go under (here and in the
    outbox's record), and commands to upgrade, copy, back up and adopt it."""
    if ctx.invoked_subcommand:
        return
    engine = ctx.find_object(Context).engine(as_json)
    recorded = engine.store.owners()
    mine = engine.identities()
    rows = []
    for name in sorted(recorded.keys() | mine.keys()):
        there, here = recorded.get(name), mine.get(name)
        rows.append({"account": name, "outbox": there and there.describe(),
                     "config": here and here.describe(),
                     "matches": there is None or here is None or there == here})
    lines = [f"{'account':<16}{'outbox records':<40}this configuration"]
    lines += [f"{row['account']:<16}{row['outbox'] or '-':<40}{row['config'] or '-'}"
              + ("" if row["matches"] else "   differs: `postroom store adopt` to take over")
              for row in rows]
    emit(as_json, rows, "\n".join(lines) if rows else "the outbox records no accounts yet")


@store.command("backup")
@click.argument("path", type=Path)  # checked by _unfit_for_copy: click.Path fails on a NUL
@json_option
@pass_context
def backup(obj: Context, path: Path, as_json: bool) -> None:
    """Copy the SQLite outbox to PATH, consistently, while workers go on sending.

    Uses SQLite's backup API, not a file copy (which can catch the database
    half written); the copy is checked before it replaces PATH. A PostgreSQL
    outbox is backed up with pg_dump instead.
    """
    engine = obj.engine(as_json)
    chosen = engine.store
    if not isinstance(chosen, SQLiteStore):
        fail("this outbox is not an SQLite file: back it up with the database's own tool "
             "(pg_dump for PostgreSQL)", EXIT_USAGE, as_json)
    problem = _unfit_for_copy(path)
    if problem:
        fail(problem, EXIT_USAGE, as_json)
    if path.resolve() == chosen.path.resolve():
        fail(f"{path} is the outbox itself: give another path for the copy", EXIT_USAGE,
             as_json)
    taken = chosen.backup(path)
    emit(as_json, taken, f"backed up {taken.source} to {taken.target}: {taken.messages} "
                         f"messages, {taken.log_entries} log entries, {taken.size:,} bytes "
                         "(integrity checked)")


def _unfit_for_copy(path: Path) -> str | None:
    """Why PATH cannot take a backup, if it cannot. The copy replaces PATH, so PATH must be
    new, empty or an earlier copy: never a folder, a device, a pipe or some other file (run
    as root, ``backup /etc/passwd`` would otherwise replace it)."""
    try:
        found = path.stat()
        if stat.S_ISREG(found.st_mode):
            with path.open("rb") as file:
                header = file.read(len(HEADER))
    except FileNotFoundError:
        return None if path.parent.is_dir() else \
            f"no folder {path.parent} to put the copy in: create it first"
    except (OSError, ValueError) as exc:  # a NUL in the name, a name too long, no access
        reason = getattr(exc, "strerror", None) or exc
        return f"{str(path)!r} cannot take the copy ({reason}): give another path"
    if not stat.S_ISREG(found.st_mode):
        return f"{path} is not a regular file: give the path of a new file for the copy"
    if header and header != HEADER:
        return (f"{path} is not an outbox backup, and the copy would replace it: give the "
                "path of a new file")
    return None


@store.command("upgrade")
@json_option
@pass_context
def upgrade(obj: Context, as_json: bool) -> None:
    """Bring the outbox's tables up to this postroom's version, keeping every message.

    Run it once after installing a new release, with the workers stopped.
    """
    engine = obj.engine(as_json)
    opened = _open(lambda: open_store(engine.config.store, engine.clock, upgrade=True), as_json)
    opened.close()
    if opened.applied:
        text = (f"upgraded the outbox {opened.where} to schema version {opened.version}:\n"
                + "\n".join(f"  {what}" for what in opened.applied))
    else:
        text = f"the outbox {opened.where} is up to date (schema version {opened.version})"
    emit(as_json, {"store": opened.where, "version": opened.version,
                   "applied": opened.applied}, text)


@store.command("copy")
@click.option("--to", "url", required=True, metavar="URL",
              help="The PostgreSQL database to copy into: postgresql://user@host/dbname "
                   "(a password is better in PGPASSWORD or ~/.pgpass than here).")
@click.option("--schema", default=DEFAULT_SCHEMA, show_default=True,
              help="The schema the tables go in ([store] schema).")
@json_option
@pass_context
def copy(obj: Context, url: str, schema: str, as_json: bool) -> None:
    """Copy the SQLite outbox (messages, delivery log, account state) into PostgreSQL.

    Stop the workers first: the copy refuses to run while one holds a lease.
    Then set [store] url (and schema) in postroom.toml and start them again.
    """
    engine = obj.engine(as_json)
    settings = engine.config.store
    if settings.url is not None:
        fail("copy reads an SQLite outbox, and this config's [store] url already names "
             "PostgreSQL: run it with the config that has [store] path", EXIT_USAGE, as_json)
    if not url.startswith(("postgresql://", "postgres://")):
        fail('--to: expected a PostgreSQL URL such as "postgresql://user@host/dbname"',
             EXIT_USAGE, as_json)
    from postroom.store.copying import copy_outbox
    from postroom.store.postgres import PostgresStore

    source = _open(lambda: open_store(settings, engine.clock), as_json)
    target = _open(lambda: PostgresStore(url, schema, clock=engine.clock), as_json)
    try:
        done = _open(lambda: copy_outbox(source, target, engine.clock()), as_json)
    finally:
        source.close()
        target.close()
    lines = [f"copied {done.source} into {done.target}:"]
    lines += [f"  {table}: {count} rows" for table, count in done.rows.items()]
    lines.append(f'now set [store] url (and schema = "{schema}") in the config of every host '
                 f"and start the workers; the SQLite file is left as it was: run no worker "
                 "on it, or its messages go twice")
    emit(as_json, done, "\n".join(lines))


def _open(work, as_json: bool):
    """``work()``, its store errors turned into a message and an exit code."""
    try:
        return work()
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except StoreError as exc:
        fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAILED, as_json)


@store.command("adopt")
@click.argument("accounts", nargs=-1, metavar="[ACCOUNT]...")
@json_option
@pass_context
def adopt(obj: Context, accounts: tuple[str, ...], as_json: bool) -> None:
    """Record this configuration's ACCOUNTS (default: all) as the outbox's.

    For a configuration that replaces another on purpose, or an account whose
    sender changed while messages waited: they then go as this configuration
    says. Two configurations that should not share the outbox want their own
    [store] path (or, on PostgreSQL, schema) instead.
    """
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    unknown = [name for name in accounts if name not in engine.config.accounts]
    if unknown:
        fail(f"no usable account named {', '.join(map(repr, unknown))} in this configuration "
             f"(usable: {', '.join(engine.config.accounts) or 'none'})", as_json=as_json)
    done = engine.store.adopt(list(accounts) or list(engine.config.accounts))
    identities = engine.identities()
    emit(as_json, {"adopted": done},
         "\n".join(f"{name}: its messages now go by {identities[name].describe()}"
                   for name in done) or "nothing to adopt")
