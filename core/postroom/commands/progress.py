"""How ``postroom queue`` shows bulk sends, and ``--watch``: pure text, and a redraw loop."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import click

from postroom.batches import BatchProgress

When = Callable[[float], str]


def batch_data(found: BatchProgress, when: When) -> dict[str, object]:
    """A batch's progress as JSON-ready values."""
    return {"batch": found.batch, "total": found.total, "sent": found.sent, "dead": found.dead,
            "waiting": found.waiting, "in_flight": found.in_flight,
            "cancelled": found.cancelled, "queued_at": when(found.created),
            "finish": None if found.finish is None else when(found.finish),
            "warning": found.warning,
            "accounts": [{"account": r.account, "sent": r.sent, "dead": r.dead,
                          "waiting": r.waiting + r.scheduled, "in_flight": r.in_flight,
                          "cancelled": r.cancelled} for r in found.accounts]}


def finish_words(found: BatchProgress, when: When) -> str:
    if not found.left:
        return "nothing left to send"
    if found.finish is None:
        return "no estimate of when the last goes (an account is not configured, or its " \
               "limits never open)"
    return f"the last expected {when(found.finish)}"


def batch_line(found: BatchProgress, when: When) -> str:
    """One line per batch, for the list of batches in progress."""
    return (f"  {found.batch}  {found.sent} sent, {found.dead} failed, {found.waiting} waiting, "
            f"{found.in_flight} in flight of {found.total}; {finish_words(found, when)}")


def batch_lines(found: BatchProgress, when: When) -> list[str]:
    """A batch in full: totals, when the last goes, and each account's part."""
    lines = [f"batch {found.batch}, queued {when(found.created)}: {found.total} messages",
             f"  sent {found.sent}, failed {found.dead}, waiting {found.waiting}, in flight "
             f"{found.in_flight}, cancelled {found.cancelled}",
             f"  {finish_words(found, when)}"]
    if found.warning:
        lines.append(f"  warning: {found.warning}")
    lines.append(f"  {'account':<16}{'sent':>7}{'failed':>8}{'waiting':>9}{'sending':>9}"
                 f"{'cancelled':>11}")
    lines += [f"  {r.account:<16}{r.sent:>7}{r.dead:>8}{r.waiting + r.scheduled:>9}"
              f"{r.in_flight:>9}{r.cancelled:>11}" for r in found.accounts]
    return lines


def watch(show: Callable[[], tuple[object, str]], interval: float, as_json: bool,
          now: Callable[[], str]) -> None:
    """Show ``show()`` again every ``interval`` seconds until Ctrl-C: redrawn in place
    on a terminal, one after another elsewhere, one JSON document a line with
    ``as_json``."""
    terminal = sys.stdout.isatty()
    try:
        while True:
            data, text = show()
            if as_json:
                click.echo(json.dumps(data, ensure_ascii=False, default=str))
            else:
                if terminal:
                    click.clear()
                click.echo(f"{now()} (every {interval:g} s; Ctrl-C stops)\n{text}"
                           + ("" if terminal else "\n"))
            time.sleep(interval)
    except KeyboardInterrupt:
        return
