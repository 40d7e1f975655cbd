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

from collections.abc import Sequence
from datetime import UTC, datetime

from attrs import evolve, frozen

from postroom.scheduling import (
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
      ``sent_since`` (none when ``newest`` is 0);
    - with ``day_start``, how many were sent at or after it (the daily cap);
    - with ``in_flight``, how many messages are in flight under a lease that
      runs past ``now``.
    """

    now: float
    sent_since: float
    newest: int
    day_start: float | None
    in_flight: bool


def usage_query(schedule: Schedule, now: float) -> UsageQuery:
    """What to read for ``schedule``'s rules at ``now``: only what they count."""
    moment = datetime.fromtimestamp(now, UTC)
    span, newest = usage_needed(schedule, moment)
    start = day_start(schedule, moment).timestamp() if schedule.daily_cap is not None else None
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
      lapses with its lease).
    """

    bucket: float | None = None
    failures: int = 0
    probe: str | None = None
    probe_until: float | None = None


@frozen
class Gate:
    """Whether a claim may take anything at all: ``open``; ``probe`` when the claim
    is to probe an unreachable account; ``wake`` when it is worth asking again."""

    open: bool
    probe: bool = False
    wake: float | None = None


def gate(state: AccountState, paused_until: float | None, now: float) -> Gate:
    """Let a claim through unless the account is paused, or another batch is probing it."""
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
    and at most ``total`` in all (manual ones included, and they go first).
    ``wake``, when nothing may go, is the earliest time something may."""

    manual: int
    total: int
    wake: float | None


def plan_claim(schedule: Schedule, usage: Usage, now: float, limit: int) -> ClaimPlan:
    """How many of the account's due messages may be claimed at ``now``, at most ``limit``."""
    moment = datetime.fromtimestamp(now, UTC)
    manual = min(limit, allowance(schedule, usage, moment, manual=True))
    total = min(limit, allowance(schedule, usage, moment))
    wake = None
    if not total:
        # A "send now" message may go before a scheduled one: ask again at the earlier time.
        wake = earliest_send(schedule, usage, moment, manual=not manual).timestamp()
    return ClaimPlan(manual, total, wake)


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
