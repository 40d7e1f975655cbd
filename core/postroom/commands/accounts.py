"""``postroom account disable|enable|reset-counter|status`` and ``postroom queue flush``:
an operator's switches for an account as a whole, kept in the store for every worker."""

from __future__ import annotations

import getpass
import sys

import click

from postroom.account_status import AccountStatus
from postroom.cli import (
    EXIT_FAILED,
    EXIT_USAGE,
    Context,
    _when,
    emit,
    fail,
    json_option,
    pass_context,
    with_group_json,
)
from postroom.engine import Engine
from postroom.errors import ConfigError


def operator() -> str:
    """Who acts, for the delivery log: the user running the command."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        name = "?"
    return f"{name} (command line)"


def _engine_and_account(obj: Context, account: str, as_json: bool) -> tuple[Engine, bool]:
    """The engine, once ``account`` is known to it, and whether to print JSON (the
    subcommand's ``--json`` or its group's)."""
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    try:
        engine.account(account)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    return engine, as_json


def status_lines(found: AccountStatus, engine: Engine) -> list[str]:
    """One account's status in words, as ``queue`` and ``account status`` show it."""
    state = "on" if found.enabled else "OFF"
    lines = [f"{found.account}: {state}, {found.mode} sending, sent today "
             f"{found.sent_today.text}"]
    if found.why_held:
        lines.append(f"  held: {found.why_held}")
    if found.pause is not None:
        lines.append(f"  paused until {_when(found.pause.until, engine)}: {found.pause.reason}")
    if found.next_check is not None:
        lines.append(f"  next check: {_when(found.next_check.timestamp(), engine)}")
    if found.low_credit_since is not None:
        lines.append(f"  credit low since {_when(found.low_credit_since.timestamp(), engine)}")
    return lines


@click.group()
@json_option
def account(as_json: bool) -> None:
    """Switch an account off and on, reset its sent-today counter, show its status."""


@account.command("disable")
@click.argument("name")
@click.option("--reason", default="", metavar="TEXT", help="Why, for the log and `queue`.")
@json_option
@pass_context
def account_disable(obj: Context, name: str, reason: str, as_json: bool) -> None:
    """Switch NAME off on every worker: its messages stay queued, its mailbox unread."""
    engine, as_json = _engine_and_account(obj, name, as_json)
    changed = engine.disable(name, reason, by=operator())
    emit(as_json, {"account": name, "enabled": False, "changed": changed},
         f"{name}: switched off; its messages wait until `postroom account enable {name}`"
         if changed else f"{name} was off already")


@account.command("enable")
@click.argument("name")
@json_option
@pass_context
def account_enable(obj: Context, name: str, as_json: bool) -> None:
    """Switch NAME on again: workers send what waited."""
    engine, as_json = _engine_and_account(obj, name, as_json)
    changed = engine.enable(name, by=operator())
    (found,) = engine.status(name)
    text = f"{name}: switched on" if changed else f"{name} was on already"
    if not found.enabled:
        text += f"\n  but still held: {found.why_held}"
    emit(as_json, {"account": name, "enabled": found.enabled, "changed": changed}, text)


@account.command("reset-counter")
@click.argument("name")
@json_option
@pass_context
def account_reset_counter(obj: Context, name: str, as_json: bool) -> None:
    """Count NAME's messages sent today from now: the daily cap counts from here."""
    engine, as_json = _engine_and_account(obj, name, as_json)
    counter = engine.reset_counter(name, by=operator())
    emit(as_json, {"account": name, "sent_today": counter},
         f"{name}: sent today {counter.text}")


@account.command("status")
@click.argument("name", required=False)
@json_option
@pass_context
def account_status(obj: Context, name: str | None, as_json: bool) -> None:
    """Show every account (or NAME): on or off, mode, sent today, why messages wait."""
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    try:
        found = engine.status(name)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    emit(as_json, found, "\n".join(line for item in found for line in status_lines(item, engine))
         or "no accounts are configured")


@click.command("flush")
@click.option("-a", "--account", "name", required=True, help="The account whose queue to send.")
@click.option("--no-send", is_flag=True,
              help="Only mark the messages to go now; the running workers send them.")
@json_option
@pass_context
def queue_flush(obj: Context, name: str, no_send: bool, as_json: bool) -> None:
    """Send what waits for an account now, as a Send button does.

    No stagger, no window, no check time, and not held by manual sending, but
    within the provider's rate limits and the daily cap. Messages an app
    scheduled for later keep their time. Without --no-send this command sends
    them itself and exits 1 if some could not go yet.
    """
    engine, as_json = _engine_and_account(obj, name, as_json)
    try:
        count = engine.flush(name, by=operator())
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    lines = [f"{name}: {count} waiting message{'s' * (count != 1)} to go now"]
    report = None
    if count and not no_send:
        report = engine.run_worker(once=True, accounts=[name], wait=0)
        lines.append(f"sent {report.sent}, dead {report.dead}, left {report.left}")
        if report.left:
            (found,) = engine.status(name)
            lines.append(f"  the rest wait for the limits (sent today "
                         f"{found.sent_today.text})")
            lines.extend(status_lines(found, engine)[1:])
    emit(as_json, {"account": name, "flushed": count, "report": report}, "\n".join(lines))
    if report is not None and report.left:
        sys.exit(EXIT_FAILED)
