"""``postroom health``: does anything need a person? Exit 1 when something does."""

from __future__ import annotations

import sys

import click

from postroom.cli import EXIT_FAILED, Context, emit, json_option, pass_context, words_of_times
from postroom.commands.progress import When
from postroom.health import AccountHealth, HealthReport, WorkerSeen


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    return f"{seconds / 60:.0f} min ago" if seconds < 7200 else f"{seconds / 3600:.1f} h ago"


def worker_line(worker: WorkerSeen, now: float) -> str:
    serves = ", ".join(worker.accounts) or "every account"
    return (f"  {worker.id} on {worker.host} (pid {worker.pid}), started "
            f"{_ago(now - worker.started)}, seen {_ago(now - worker.seen)}, serving {serves}: "
            f"{worker.sent} sent, {worker.dead} failed for good")


def account_lines(account: AccountHealth, when: When) -> list[str]:
    waited = "" if account.oldest_due_age is None else \
        f", the oldest due {_ago(account.oldest_due_age)}"
    lines = [f"  {account.account}: {account.queued} queued, {account.due} due{waited}; last "
             f"taken by a worker {_ago(account.last_claim_age)}; {account.dead_recent} failed "
             "for good lately"]
    if account.paused_until is not None:
        lines.append(f"    paused until {when(account.paused_until)} ({account.pause_kind}): "
                     f"{account.pause_reason}")
    if account.disabled_at is not None:
        lines.append(f"    switched off {when(account.disabled_at)} {account.switched_off_by}")
    if account.off_in_config:
        lines.append("    off in the config (enabled = false): its messages wait until it is "
                     "turned on there")
    if account.credits is not None:
        reading = account.credits
        low = " (low)" if reading.is_low else ""
        lines.append(f"    balance {reading.balance} {reading.unit}{low}, read "
                     f"{when(reading.at)}")
    return lines


def report_text(report: HealthReport, when: When) -> str:
    lines = [f"workers: {len(report.live)} running"]
    lines += [worker_line(w, report.at) for w in report.live]
    if report.stale:
        lines.append("workers that stopped without saying so:")
        lines += [worker_line(w, report.at) for w in report.stale]
    lines.append("accounts:" if report.accounts else
                 "accounts: nothing queued, paused, switched off or read")
    for account in report.accounts:
        lines += account_lines(account, when)
    if report.problems:
        lines.append("needs a person:")
        lines += [f"  - {problem}" for problem in report.problems]
    else:
        lines.append("ok: nothing needs a person")
    return "\n".join(lines)


@click.command()
@json_option
@pass_context
def health(obj: Context, as_json: bool) -> None:
    """Say whether anything needs a person: workers alive or stopped, due messages no
    worker takes, long pauses, messages failed for good, low balances. Accounts
    switched off are listed with who did it and why.

    Exits 1 when something does (thresholds: [health] in the config), 0 when not.
    """
    engine = obj.engine(as_json)
    report = engine.health()
    emit(as_json, report.as_dict(), report_text(report, words_of_times(engine)))
    if not report.ok:
        sys.exit(EXIT_FAILED)
