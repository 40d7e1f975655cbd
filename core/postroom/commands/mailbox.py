"""``postroom mailbox check|test ACCOUNT`` and ``postroom inbox``: incoming mail."""

from __future__ import annotations

import click

from postroom.cli import (
    EXIT_USAGE,
    Context,
    emit,
    fail,
    json_option,
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
