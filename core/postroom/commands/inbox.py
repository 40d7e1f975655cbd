"""``postroom inbox``: what came in (replies, bounces, opt-outs), and who opted out."""

from __future__ import annotations

import click

from postroom.cli import Context, _when, emit, json_option, since_option, with_group_json
from postroom.store import InboxEntry

KINDS = ("reply", "bounce", "opt_out", "opt_in", "other")


@click.group(invoke_without_command=True)
@click.option("-a", "--account", help="Only this account.")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind.")
@click.option("--since", metavar="WHEN", help="ISO date/time, or an age such as 2h or 7d.")
@click.option("--from", "sender", metavar="ADDRESS", help="Sender (or part of it).")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@click.pass_context
def inbox(ctx: click.Context, account, kind, since, sender, limit, as_json: bool) -> None:
    """Show what came in, newest first: texts through webhooks, mail read from mailboxes."""
    if ctx.invoked_subcommand:
        return
    engine = ctx.find_object(Context).engine(as_json)
    entries = engine.inbox(account=account, kind=kind, sender=sender, limit=limit,
                           since=since_option(since, engine, as_json))
    lines = [_line(entry, engine) for entry in entries]
    emit(as_json, entries, "\n".join(lines) if lines else "the inbox is empty")


def _line(entry: InboxEntry, engine) -> str:
    said = entry.subject if entry.channel == "email" and entry.subject else entry.text
    line = (f"{_when(entry.received, engine)}  {entry.account:<10} {entry.kind:<8} "
            f"{entry.sender}  {said!r}")
    return line + (f"  (answers {entry.message_id})" if entry.message_id else "")


@inbox.command("opted-out")
@json_option
@click.pass_context
def opted_out(ctx: click.Context, as_json: bool) -> None:
    """List the numbers that opted out (STOP) and have not opted back in."""
    as_json = with_group_json(as_json)
    engine = ctx.find_object(Context).engine(as_json)
    found = engine.store.opt_outs()
    lines = [f"{o.address:<18} {o.scope:<6} since {_when(o.at, engine)}"
             + (f"  ({o.keyword} to {o.account})" if o.keyword else f"  (via {o.account})")
             for o in found]
    emit(as_json, found, "\n".join(lines) if lines else "nobody opted out")
