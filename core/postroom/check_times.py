"""When an account looks at its queue and its mailbox: sending modes, check intervals, preset times.

Pure functions of a ``Schedule`` and the time, as in ``postroom.scheduling``.

- ``immediate``: a message may go as soon as it is due (within the windows
  and sessions and the limits).
- ``scheduled``: the account looks at its queue at its checks only: every
  ``check_every`` within each open window or session (counted from the
  moment it opens; from local midnight when the account has none) and at
  each preset time of ``at`` that falls inside one. A check releases what
  was due at that moment; what arrives later waits for the next check.
- ``manual``: nothing goes until an operator flushes the queue (or sends a
  message with "send now").

The same checks say when the account's incoming mailbox is read.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from postroom.scheduling import (
    SEARCH_DAYS,
    Schedule,
    is_open,
    local_midnight,
    next_day_start,
    open_intervals,
    search_days,
)


def has_checks(schedule: Schedule) -> bool:
    """Whether the account's schedule sets check times (``check_every`` or ``at``)."""
    return schedule.check_every is not None or bool(schedule.at)


def checks_on(schedule: Schedule, day: date) -> list[datetime]:
    """The checks that belong to local ``day``, in order (UTC): the interval's
    checks of each stretch that opens that day, and the preset times of that
    day that fall inside a stretch (any preset time, for an account with
    neither windows nor sessions)."""
    found: set[datetime] = set()
    every = schedule.check_every
    if every is not None:
        if schedule.restricted:
            stretches = open_intervals(schedule, day)
        else:
            midnight = local_midnight(schedule, day)
            stretches = [(midnight, next_day_start(schedule, midnight))]
        for start, end in stretches:
            moment = start
            while moment < end:
                found.add(moment)
                moment += every
    for clock in schedule.at:
        moment = datetime.combine(day, clock, schedule.timezone).astimezone(UTC)
        if is_open(schedule, moment):
            found.add(moment)
    return sorted(found)


def _days_back(schedule: Schedule, now: datetime) -> int:
    return SEARCH_DAYS + 1 if schedule.windows or not schedule.restricted else \
        max(0, (schedule.local(now).date() - min(s.day for s in schedule.sessions)).days + 1)


def last_check(schedule: Schedule, now: datetime) -> datetime | None:
    """The latest check at or before ``now`` (within two weeks, or the sessions)."""
    now = now.astimezone(UTC)
    today = schedule.local(now).date()
    for back in range(_days_back(schedule, now) + 1):
        earlier = [c for c in checks_on(schedule, today - timedelta(days=back)) if c <= now]
        if earlier:
            return earlier[-1]
    return None


def next_check(schedule: Schedule, after: datetime) -> datetime | None:
    """The first check strictly after ``after``; None when there is none to come."""
    after = after.astimezone(UTC)
    # From the day before: a stretch that opened yesterday may run past midnight.
    first = schedule.local(after).date() - timedelta(days=1)
    for offset in range(max(search_days(schedule, after), 1) + 2):
        later = [c for c in checks_on(schedule, first + timedelta(days=offset)) if c > after]
        if later:
            return later[0]
    return None


def released_until(schedule: Schedule, now: datetime) -> float:
    """Messages of the account due at or before this time (epoch seconds) may be
    claimed at ``now``, "send now" ones aside: ``now`` itself for an immediate
    account, the last check for a scheduled one, and for a manual one nothing
    (minus infinity)."""
    if schedule.mode == "manual":
        return -math.inf
    if schedule.mode == "scheduled" and has_checks(schedule):
        found = last_check(schedule, now)
        return -math.inf if found is None else found.timestamp()
    return now.timestamp()


def next_release(schedule: Schedule, now: datetime) -> float | None:
    """When a scheduled account next releases what waits (its next check), if ever."""
    if schedule.mode != "scheduled" or not has_checks(schedule):
        return None
    found = next_check(schedule, now)
    return None if found is None else found.timestamp()


def mailbox_due(schedule: Schedule, every: timedelta, last: datetime | None,
                now: datetime) -> datetime | None:
    """When the account's mailbox is next read, having last been read at ``last``.

    At the account's checks when its schedule has any (the latest one not yet
    read, or the next); else ``every`` (the mailbox's own ``check_every``)
    after the last read, and at once when it was never read. None: no check
    to come (every session is past).
    """
    if not has_checks(schedule):
        return now if last is None else last + every
    if last is None:
        return last_check(schedule, now) or next_check(schedule, now)
    return next_check(schedule, last)
