"""``postroom store``: the outbox itself; ``backup`` copies it safely while workers run."""

from __future__ import annotations

from pathlib import Path

import click

from postroom.cli import EXIT_USAGE, Context, emit, fail, json_option, pass_context
from postroom.store.sqlite import SQLiteStore


@click.group("store")
def store() -> None:
    """The outbox and delivery log as stored."""


@store.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
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
    if path.resolve() == chosen.path.resolve():
        fail(f"{path} is the outbox itself: give another path for the copy", EXIT_USAGE,
             as_json)
    if not path.parent.is_dir():
        fail(f"no folder {path.parent} to put the copy in: create it first", EXIT_USAGE,
             as_json)
    taken = chosen.backup(path)
    emit(as_json, taken, f"backed up {taken.source} to {taken.target}: {taken.messages} "
                         f"messages, {taken.log_entries} log entries, {taken.size:,} bytes "
                         "(integrity checked)")
