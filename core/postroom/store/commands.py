"""``postroom store``: which configuration the outbox database takes its accounts from.

The outbox records, per account, the channel and sender its messages were
queued under (see ``postroom.store.identity``). ``postroom store`` shows that
record beside this configuration's accounts; ``postroom store adopt`` makes
this configuration's accounts the record, so messages already waiting go as
it says.
"""

from __future__ import annotations

import click

from postroom.cli import Context, emit, fail, json_option, pass_context, with_group_json


@click.group("store", invoke_without_command=True)
@json_option
@click.pass_context
def store(ctx: click.Context, as_json: bool) -> None:
    """Show which sender each account's queued messages go under, here and in the outbox."""
    if ctx.invoked_subcommand:
        return
    engine = ctx.find_object(Context).engine(as_json)
    recorded = engine.store.owners() if hasattr(engine.store, "owners") else {}
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


@store.command("adopt")
@click.argument("accounts", nargs=-1, metavar="[ACCOUNT]...")
@json_option
@pass_context
def adopt(obj: Context, accounts: tuple[str, ...], as_json: bool) -> None:
    """Record this configuration's ACCOUNTS (default: all) as the outbox's.

    For a configuration that replaces another on purpose, or an account whose
    sender changed while messages waited: they then go as this configuration
    says. Two configurations that should not share the outbox want their own
    [store] path instead.
    """
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    unknown = [name for name in accounts if name not in engine.config.accounts]
    if unknown:
        fail(f"no usable account named {', '.join(map(repr, unknown))} in this configuration "
             f"(usable: {', '.join(engine.config.accounts) or 'none'})", as_json=as_json)
    if not hasattr(engine.store, "adopt"):
        fail("this outbox keeps no record of its accounts", as_json=as_json)
    done = engine.store.adopt(list(accounts) or list(engine.config.accounts))
    identities = engine.identities()
    emit(as_json, {"adopted": done},
         "\n".join(f"{name}: its messages now go by {identities[name].describe()}"
                   for name in done) or "nothing to adopt")
