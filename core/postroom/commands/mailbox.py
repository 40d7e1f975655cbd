"""``postroom mailbox check|test ACCOUNT`` and ``postroom inbox``: incoming mail."""

from __future__ import annotations

import click

from postroom.cli import (
    EXIT_USAGE,
    Context,
    _when,
    emit,
    fail,
    json_option,
    parse_time,
    pass_context,
    report_diagnosis,
    with_group_json,
)
from postroom.errors import ConfigError
from postroom.mailbox import MailboxFailed


@click.group()
@json_option
def mailbox(as_json: bool) -> None:
    """Check accounts' incoming mailboxes for bounces and replies."""


@mailbox.command("check")
@click.argument("account")
@json_option
@pass_context
def mailbox_check(obj: Context, account: str, as_json: bool) -> None:
    """Read ACCOUNT's new mail once: bounces go in the log, everything in the inbox."""
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    try:
        report = engine.check_mailbox(account)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except MailboxFailed as failed:
        report_diagnosis(account, failed.diagnosis, as_json)
    lines = [f"{entry.kind}: from {entry.sender or '?'} {entry.subject!r}"
             + (f" (about message {entry.message_id})" if entry.message_id else "")
             for entry in report.entries]
    lines.append(f"{account}: {report.read} new, {report.bounces} bounced recipients logged, "
                 f"{report.replies} replies, {report.other} other, {report.unmatched} bounces "
                 "of messages not in the outbox"
                 + (f"; {report.left} left for the next check" if report.left else ""))
    emit(as_json, report, "\n".join(lines))


@mailbox.command("test")
@click.argument("account")
@json_option
@pass_context
def mailbox_test(obj: Context, account: str, as_json: bool) -> None:
    """Check live that ACCOUNT's mailbox opens: connect, TLS, log in, folder."""
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    try:
        found = engine.test_mailbox(account)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    report_diagnosis(account, found, as_json)


@click.command()
@click.option("-a", "--account", help="Only this account.")
@click.option("--kind", type=click.Choice(["reply", "bounce", "other"]), help="Only this kind.")
@click.option("--since", metavar="WHEN", help="ISO date/time, or an age such as 2h or 7d.")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@pass_context
def inbox(obj: Context, account: str | None, kind: str | None, since: str | None, limit: int,
          as_json: bool) -> None:
    """Show incoming messages, newest first: replies, bounces and other mail."""
    engine = obj.engine(as_json)
    try:
        start = parse_time(since, "--since", engine, past=True) if since else None
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    entries = engine.inbox(account=account, kind=kind, limit=limit,
                           since=start.timestamp() if start else None)
    lines = [f"{_when(e.received, engine)}  {e.account:<10} {e.kind:<7} {e.sender}  "
             f"{e.subject!r}" + (f"  re {e.message_id}" if e.message_id else "")
             for e in entries]
    emit(as_json, entries, "\n".join(lines) if lines else "the inbox is empty")
