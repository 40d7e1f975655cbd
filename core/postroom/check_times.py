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


def _stretches(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """What ``check_every`` counts from on local ``day``: each window or session
    stretch that opens that day, or the whole day for an account with neither."""
    if schedule.restricted:
        return open_intervals(schedule, day)
    midnight = local_midnight(schedule, day)
    return [(midnight, next_day_start(schedule, midnight))]


def _presets(schedule: Schedule, day: date) -> list[datetime]:
    """The preset times of local ``day`` that fall inside a window or session (all of
    them, for an account with neither)."""
    moments = (datetime.combine(day, clock, schedule.timezone).astimezone(UTC)
               for clock in schedule.at)
    return [moment for moment in moments if is_open(schedule, moment)]


def _latest_on(schedule: Schedule, day: date, now: datetime) -> datetime | None:
    """The latest check of local ``day`` at or before ``now``."""
    found = [moment for moment in _presets(schedule, day) if moment <= now]
    every = schedule.check_every
    if every is not None:
        for start, end in _stretches(schedule, day):
            if start <= now:
                # The checks are start + k * every, all before the stretch ends.
                steps = min((now - start) // every, math.ceil((end - start) / every) - 1)
                found.append(start + steps * every)
    return max(found, default=None)


def _earliest_on(schedule: Schedule, day: date, after: datetime) -> datetime | None:
    """The first check of local ``day`` strictly after ``after``."""
    found = [moment for moment in _presets(schedule, day) if moment > after]
    every = schedule.check_every
    if every is not None:
        for start, end in _stretches(schedule, day):
            moment = start if after < start else start + ((after - start) // every + 1) * every
            if moment < end:
                found.append(moment)
    return min(found, default=None)


def _days_back(schedule: Schedule, now: datetime) -> int:
    if schedule.windows or not schedule.restricted:
        return SEARCH_DAYS + 1
    first = min(s.day for s in schedule.sessions)
    return max(0, (schedule.local(now).date() - first).days + 1)


def last_check(schedule: Schedule, now: datetime) -> datetime | None:
    """The latest check at or before ``now`` (within two weeks, or the sessions): every
    ``check_every`` from the moment each window or session opens (from local
    midnight without any), and each ``at`` time inside one."""
    now = now.astimezone(UTC)
    today = schedule.local(now).date()
    for back in range(_days_back(schedule, now) + 1):
        day = today - timedelta(days=back)
        found = _latest_on(schedule, day, now)
        if found is not None:
            # The day before's stretch may run past midnight, to a later check.
            before = _latest_on(schedule, day - timedelta(days=1), now)
            return found if before is None else max(found, before)
    return None


def next_check(schedule: Schedule, after: datetime) -> datetime | None:
    """The first check strictly after ``after`` (see ``last_check``); None when there
    is none to come."""
    after = after.astimezone(UTC)
    # From the day before: a stretch that opened yesterday may run past midnight.
    first = schedule.local(after).date() - timedelta(days=1)
    for offset in range(max(search_days(schedule, after), 1) + 2):
        day = first + timedelta(days=offset)
        found = _earliest_on(schedule, day, after)
        if found is not None:
            # This day's stretch may run past midnight, beyond the next day's first check.
            following = _earliest_on(schedule, day + timedelta(days=1), after)
            return found if following is None else min(found, following)
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
