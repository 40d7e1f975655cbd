"""What every store backend decides alike when it claims: limits, pauses and outages.

A store claims in one write transaction (SQLite ``BEGIN IMMEDIATE``, a row lock
on the account in a server database). Inside it, it reads the rows
``usage_query`` names, builds the account's ``Usage`` with ``build_usage``,
passes the account's ``AccountState`` and pause through ``gate``, asks
``plan_claim`` how many may go, claims that many and stores the state the
plan leaves (``bucket_after``, the probe). Only reading and writing rows is
the backend's own; every decision is made here, by pure functions, so
backends cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import attrs
from attrs import evolve, frozen

from postroom.check_times import next_release, released_until
from postroom.scheduling import (
    NeverOpen,
    Schedule,
    Usage,
    allowance,
    backoff,
    day_start,
    earliest_send,
    usage_needed,
)


@frozen
class UsageQuery:
    """The rows a store reads, for one account at ``now``, to build its ``Usage``.

    - the ``newest`` completion times (``sent_at``) of sent messages after
      ``sent_since`` and not after ``now`` (none when ``newest`` is 0): sends
      recorded later than ``now`` were before the clock stepped back
      (``Usage.as_of``);
    - with ``day_start``, how many were sent at or after it (the daily cap);
    - with ``in_flight``, how many messages are in flight under a lease that
      runs past ``now``.
    """

    now: float
    sent_since: float
    newest: int
    day_start: float | None
    in_flight: bool


def counting_from(schedule: Schedule, now: float, counted_from: float | None) -> float:
    """Where the account's count of "sent today" starts at ``now``: the start of its
    day (midnight in its time zone), or an operator's reset of the counter made
    since then."""
    start = day_start(schedule, datetime.fromtimestamp(now, UTC)).timestamp()
    return start if counted_from is None else max(start, counted_from)


def usage_query(schedule: Schedule, now: float, counted_from: float | None = None) -> UsageQuery:
    """What to read for ``schedule``'s rules at ``now``: only what they count.
    ``counted_from`` is the account's last counter reset (``AccountState``)."""
    moment = datetime.fromtimestamp(now, UTC)
    span, newest = usage_needed(schedule, moment)
    start = counting_from(schedule, now, counted_from) if schedule.daily_cap is not None \
        else None
    return UsageQuery(now, now - span, newest, start, schedule.limited)


def build_usage(sent_times: Sequence[float], today: int, in_flight: int,
                bucket: float | None) -> Usage:
    """The ``Usage`` from what a ``UsageQuery`` read (sent times in any order)."""
    recent = [datetime.fromtimestamp(t, UTC) for t in sorted(sent_times)]
    return Usage(recent, today, in_flight, bucket)


@frozen
class AccountState:
    """The state workers share about one account, kept in one row per account.

    - ``bucket``: the ``per_second`` bucket (see ``Usage.bucket``);
    - ``failures``: batches in a row that found the account unreachable (0:
      reachable); while above 0 only one batch at a time, the probe, may try;
    - ``probe``: the claim token of the batch probing the account now, and
      ``probe_until`` when that probe's lease ends (a dead prober's probe
      lapses with its lease);
    - ``counted_from``: when an operator last reset the sent-today counter;
    - ``disabled_at``: when an operator switched the account off (None: on),
      ``disabled_reason`` why and ``disabled_by`` who; nothing is claimed
      while it is off;
    - ``low_credit_at``: when a balance read found the credit below the
      account's threshold (None: not low), so each crossing is told once;
    - ``mailbox_read_at``: when the account's mailbox was last read on its
      schedule.
    """

    bucket: float | None = None
    failures: int = 0
    probe: str | None = None
    probe_until: float | None = None
    counted_from: float | None = None
    disabled_at: float | None = None
    disabled_reason: str = ""
    disabled_by: str = ""
    low_credit_at: float | None = None
    mailbox_read_at: float | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


#: ``AccountState``'s fields, the columns of the ``account_state`` table after ``account``.
STATE_COLUMNS = tuple(field.name for field in attrs.fields(AccountState))


@frozen
class Gate:
    """Whether a claim may take anything at all: ``open``; ``probe`` when the claim
    is to probe an unreachable account; ``wake`` when it is worth asking again."""

    open: bool
    probe: bool = False
    wake: float | None = None


def gate(state: AccountState, paused_until: float | None, now: float) -> Gate:
    """Let a claim through unless the account is switched off or paused, or another
    batch is probing it."""
    if not state.enabled:
        return Gate(False)
    if paused_until is not None and paused_until > now:
        return Gate(False, wake=paused_until)
    if not state.failures:
        return Gate(True)
    if state.probe is not None and state.probe_until is not None and state.probe_until > now:
        return Gate(False, wake=state.probe_until)
    return Gate(True, probe=True)


@frozen
class ClaimPlan:
    """How many messages a claim takes: at most ``manual`` "send now" messages
    and at most ``total`` in all (manual ones included, and they go first); the
    others only if due at or before ``released`` (the account's mode: see
    ``postroom.check_times``). ``wake``, when nothing may go, is the earliest
    time something may."""

    manual: int
    total: int
    wake: float | None
    released: float = math.inf


def plan_claim(schedule: Schedule, usage: Usage, now: float, limit: int) -> ClaimPlan:
    """How many of the account's due messages may be claimed at ``now``, at most ``limit``."""
    moment = datetime.fromtimestamp(now, UTC)
    manual = min(limit, allowance(schedule, usage, moment, manual=True))
    released = released_until(schedule, moment)
    try:
        total = min(limit, allowance(schedule, usage, moment))
        wake = None
        if not total:
            # A "send now" message may go before a scheduled one: ask again at the earlier time.
            wake = earliest_send(schedule, usage, moment, manual=not manual).timestamp()
    except NeverOpen:  # every session is past: only "send now" messages may go
        total, wake, released = manual, None, -math.inf
    check = next_release(schedule, moment)
    if check is not None:  # what arrives after a check waits for the next one
        wake = check if wake is None else min(wake, check)
    return ClaimPlan(manual, total, wake, released)


def after_unreachable(state: AccountState, token: str, now: float, pause: float,
                      pause_max: float) -> tuple[AccountState, float | None]:
    """The state after the batch ``token`` found the account unreachable, and until
    when the account pauses (doubling from ``pause`` up to ``pause_max``).

    Only the first failure and the probe's own count: batches that were under
    way when the account went down do not stretch the pause. None: no new pause.
    """
    if state.failures and state.probe != token:
        return state, None
    failures = state.failures + 1
    until = now + backoff(failures, pause, pause_max, 0)
    return evolve(state, failures=failures, probe=None, probe_until=None), until


def after_reached(state: AccountState) -> AccountState:
    """The state once a batch reached the account: no outage, no probe."""
    return evolve(state, failures=0, probe=None, probe_until=None)


def switched(state: AccountState, enabled: bool, now: float, reason: str,
             by: str) -> AccountState:
    """The state once an operator switched the account on or off (an account
    switched off again keeps when and why it first was)."""
    if enabled:
        return evolve(state, disabled_at=None, disabled_reason="", disabled_by="")
    if not state.enabled:
        return state
    return evolve(state, disabled_at=now, disabled_reason=reason, disabled_by=by)


def credit_noted(state: AccountState, low: bool, now: float) -> AccountState:
    """The state after a balance read: low since the first low read, else not low."""
    if not low:
        return evolve(state, low_credit_at=None)
    return state if state.low_credit_at is not None else evolve(state, low_credit_at=now)


def mailbox_taken(state: AccountState, due: float, now: float) -> AccountState:
    """The state once the mailbox read due at ``due`` is taken at ``now``; unchanged
    when a read at or after ``due`` was taken already."""
    read = state.mailbox_read_at
    return state if read is not None and read >= due else evolve(state, mailbox_read_at=now)
