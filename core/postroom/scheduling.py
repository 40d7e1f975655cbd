"""When messages may go: send windows, rate limits, daily caps, staggering, estimates.

Pure functions of a ``Schedule``, the account's recent sends and the time;
no clock, no I/O, so every rule is tested with fixed times. All datetimes are
timezone-aware; windows and the daily cap's "day" are read in the schedule's
time zone, so DST change days have 23 or 25 hours as they do on the wall.
A wall-clock time the clocks skip on such a day opens or closes a window at
the moment of the jump (``localize``), so a window keeps the part that exists.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from attrs import field, frozen

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 15  # a window set that opens on no day in two weeks never opens


def parse_days(spec: str) -> frozenset[int]:
    """``"mon-fri"``, ``"sat,sun"``, ``"daily"`` → weekday numbers (Monday is 0)."""
    spec = spec.strip().lower()
    if spec in ("daily", "*", "every day"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"expected days such as \"mon-fri\" or \"sat,sun\", got {spec!r}")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.update(range(start, end + 1) if start <= end else [*range(start, 7),
                                                                *range(0, end + 1)])
    return frozenset(days)


def localize(wall: datetime, tz: tzinfo) -> datetime:
    """The naive wall-clock time ``wall`` read in ``tz``, as an aware datetime in UTC.

    A time that happens twice (the clocks going back) is its first
    occurrence. A time that never happens (skipped when the clocks go
    forward) is the moment of the jump: the first moment after it that exists.
    In UTC, because an aware time in the repeated hour compares unequal to
    every time of another zone (PEP 495).
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall.replace(fold=0):
        return first
    # Read with the offsets before and after the jump, the time lands either side of it.
    low, high = sorted(wall.replace(tzinfo=tz, fold=fold).astimezone(UTC).timestamp()
                       for fold in (0, 1))
    low, high = math.floor(low), math.ceil(high)
    offset = datetime.fromtimestamp(low, tz).utcoffset()
    while high - low > 1:  # the jump is at a whole second
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


@frozen
class Window:
    """Open from ``start`` to ``end`` on ``days``; an ``end`` at or before ``start``
    runs past midnight into the next day (``22:00`` to ``06:00``)."""

    days: frozenset[int]
    start: time
    end: time

    def intervals_on(self, day: date, tz: tzinfo) -> list[tuple[datetime, datetime]]:
        """The stretch of this window that starts on ``day``, as aware datetimes."""
        if day.weekday() not in self.days:
            return []
        opens = localize(datetime.combine(day, self.start), tz)
        closes_on = day if self.end > self.start else day + timedelta(days=1)
        # In UTC (as localize gives them), because aware datetimes sharing a zone
        # subtract as wall-clock times.
        return [(opens, localize(datetime.combine(closes_on, self.end), tz))]


@frozen
class Schedule:
    """An account's sending rules. ``None`` means no limit of that kind.

    - ``windows``: when sending is allowed; empty means any time.
    - ``per_second``/``per_minute``/``per_hour``: rate limits.
    - ``daily_cap``: at most this many per day (midnight to midnight in ``timezone``).
    - ``min_gap``: seconds between two messages, always.
    - ``stagger``: seconds between two messages of a bulk send, so replies do
      not all arrive at once; a manual "send now" skips it.
    """

    windows: tuple[Window, ...] = ()
    timezone: tzinfo = UTC
    per_second: float | None = None
    per_minute: int | None = None
    per_hour: int | None = None
    daily_cap: int | None = None
    min_gap: float = 0.0
    stagger: float = 0.0

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.timezone)


@frozen
class History:
    """What the account has sent lately: send times within the last hour
    (oldest first) and the count since local midnight."""

    recent: tuple[datetime, ...] = field(default=(), converter=tuple)
    today: int = 0

    @property
    def last(self) -> datetime | None:
        return self.recent[-1] if self.recent else None

    def since(self, at: datetime) -> int:
        return sum(1 for t in self.recent if t > at)

    def as_of(self, now: datetime) -> History:
        """The history as seen at ``now``, without the sends recorded later than
        ``now``: the clock has stepped back since they went. Counting them would
        hold every limit for the size of the step; left out, a limit may let
        one span's worth more go at the step, once. (Counting them as sent at
        ``now`` would not help: without a record of the step, "now" moves on
        with the clock and they would stay inside every span.)"""
        if not self.recent or self.recent[-1] <= now:
            return self
        return History([t for t in self.recent if t <= now], self.today)


def open_intervals(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """Every window stretch that starts on local ``day``, in order."""
    found = [iv for w in schedule.windows for iv in w.intervals_on(day, schedule.timezone)]
    return sorted(found)


def _intervals_around(schedule: Schedule, at: datetime):
    """Window stretches from the day before ``at`` onwards (yesterday's may run past midnight)."""
    first = schedule.local(at).date() - timedelta(days=1)
    for offset in range(SEARCH_DAYS + 1):
        yield from open_intervals(schedule, first + timedelta(days=offset))


def is_open(schedule: Schedule, at: datetime) -> bool:
    if not schedule.windows:
        return True
    return next_open(schedule, at) == at


def next_open(schedule: Schedule, at: datetime) -> datetime:
    """``at`` itself when a window is open, else when the next one opens."""
    if not schedule.windows:
        return at
    for start, end in _intervals_around(schedule, at):
        if end > at:
            return max(start, at)
    raise ValueError("the send windows never open: check their days")


def window_minutes_on(schedule: Schedule, day: date) -> float:
    """Minutes of open window starting on ``day`` (real minutes: DST counts)."""
    return sum((end - start).total_seconds() / 60 for start, end in open_intervals(schedule, day))


def per_minute_limit(schedule: Schedule, day: date) -> float | None:
    """The per-minute rate in force on ``day``.

    The tightest of ``per_second`` and ``per_minute``; when neither is given
    but a daily cap and windows are, the cap spread over that day's window
    time, rounded down and never below 1 a minute (the cap itself still stops
    sending once reached).
    """
    limits = [float(x) for x in (schedule.per_minute,) if x is not None]
    if schedule.per_second is not None:
        limits.append(schedule.per_second * 60)
    if limits:
        return min(limits)
    if schedule.daily_cap is not None and schedule.windows:
        minutes = window_minutes_on(schedule, day)
        if minutes > 0:
            return float(max(1, math.floor(schedule.daily_cap / minutes)))
    return None


def _midnight(schedule: Schedule, day: date) -> datetime:
    return localize(datetime.combine(day, time(0)), schedule.timezone)


def _next_midnight(schedule: Schedule, at: datetime) -> datetime:
    return _midnight(schedule, schedule.local(at).date() + timedelta(days=1))


def earliest_send(schedule: Schedule, history: History, now: datetime,
                  manual: bool = False) -> datetime:
    """The earliest time the account's next message may go.

    ``manual`` (an operator's "send now") skips the stagger delay and the send
    windows, but not rates, the minimum gap or the daily cap: those are the
    provider's limits, and breaking them gets the account blocked.
    """
    now = at = now.astimezone(UTC)
    history = history.as_of(now)
    last = history.last
    gap = schedule.min_gap if manual else max(schedule.min_gap, schedule.stagger)
    if last is not None and gap:
        at = max(at, last + timedelta(seconds=gap))
    rate = per_minute_limit(schedule, schedule.local(now).date())
    per_minute = None if rate is None else max(1, math.floor(rate))
    for allowed, span in ((per_minute, 60.0), (schedule.per_hour, 3600.0)):
        if allowed is None:
            continue
        inside = [t for t in history.recent if t > now - timedelta(seconds=span)]
        if len(inside) >= allowed:
            # The oldest send that still counts must leave the span first.
            at = max(at, inside[-allowed] + timedelta(seconds=span))
    if schedule.daily_cap is not None and history.today >= schedule.daily_cap:
        at = max(at, _next_midnight(schedule, now))
    return at if manual else next_open(schedule, at)


def allowance(schedule: Schedule, history: History, now: datetime, manual: bool = False) -> int:
    """How many messages may go right now, as one batch (0: wait).

    When nothing limits the count it is a large number: callers cap it with
    their batch size.
    """
    now = now.astimezone(UTC)
    history = history.as_of(now)
    if earliest_send(schedule, history, now, manual) > now:
        return 0
    counts = [10**9]
    if schedule.min_gap or (schedule.stagger and not manual):
        counts.append(1)
    rate = per_minute_limit(schedule, schedule.local(now).date())
    if rate is not None:
        counts.append(max(1, math.floor(rate)) - history.since(now - timedelta(minutes=1)))
    if schedule.per_hour is not None:
        counts.append(schedule.per_hour - history.since(now - timedelta(hours=1)))
    if schedule.daily_cap is not None:
        counts.append(schedule.daily_cap - history.today)
    return max(0, min(counts))


@frozen
class Estimate:
    """How a bulk send of ``count`` messages will go out.

    ``per_minute`` is the effective rate (None: no limit), ``per_day`` how many
    a full day allows (None: no limit), ``finish`` when the last message goes,
    ``days`` the calendar days it spans, and ``warning`` a sentence when it
    takes longer than the configured number of days.
    """

    count: int
    per_minute: float | None
    per_day: int | None
    start: datetime
    finish: datetime
    days: int
    warning: str | None = None


def _interval_capacity(schedule: Schedule, seconds: float, day: date) -> float:
    """How many messages fit in ``seconds`` of open time under the rate rules."""
    caps = [math.inf]
    rate = per_minute_limit(schedule, day)
    if rate is not None:
        caps.append(rate * seconds / 60)
    if schedule.per_hour is not None:
        caps.append(schedule.per_hour * seconds / 3600)
    gap = max(schedule.min_gap, schedule.stagger)
    if gap:
        caps.append(seconds / gap + 1)
    return min(caps)


def _seconds_per_message(schedule: Schedule, day: date) -> float:
    spacing = [0.0]
    rate = per_minute_limit(schedule, day)
    if rate is not None:
        spacing.append(60 / rate)
    if schedule.per_hour is not None:
        spacing.append(3600 / schedule.per_hour)
    spacing.append(max(schedule.min_gap, schedule.stagger))
    return max(spacing)


def estimate(schedule: Schedule, count: int, now: datetime, history: History | None = None,
             warn_after_days: float | None = None, max_days: int = 3660) -> Estimate:
    """Walk the days ahead, filling each window until ``count`` messages are placed."""
    history = history or History()
    now = now.astimezone(UTC)
    remaining = float(count)
    day = schedule.local(now).date()
    finish = now
    sent_today = history.today
    for _ in range(max_days):
        if schedule.windows:
            stretches = [(max(s, now), e) for s, e in open_intervals(schedule, day) if e > now]
        else:
            start = max(now, _midnight(schedule, day))
            stretches = [(start, _next_midnight(schedule, start))]
        day_room = math.inf if schedule.daily_cap is None else schedule.daily_cap - sent_today
        for start, end in stretches:
            if remaining <= 0 or day_room <= 0:
                break
            fits = min(_interval_capacity(schedule, (end - start).total_seconds(), day),
                       day_room)
            placed = min(fits, remaining)
            spacing = _seconds_per_message(schedule, day)
            finish = start + timedelta(seconds=max(0.0, math.ceil(placed) - 1) * spacing)
            remaining -= placed
            day_room -= placed
        if remaining <= 0:
            break
        day += timedelta(days=1)
        sent_today = 0
    else:
        raise ValueError(f"{count} messages do not fit in {max_days} days under these limits")
    today = schedule.local(now).date()
    days = (schedule.local(finish).date() - today).days + 1
    warning = None
    if warn_after_days is not None and (finish - now) > timedelta(days=warn_after_days):
        until = schedule.local(finish).strftime("%a %d %b %H:%M")
        warning = (f"sending {count} messages will take until {until} ({days} days), longer "
                   f"than the {warn_after_days:g} days configured; raise the limits, widen the "
                   "windows or split the send")
    return Estimate(count, per_minute_limit(schedule, today), _per_day(schedule, today),
                    now, finish, days, warning)


def _per_day(schedule: Schedule, day: date) -> int | None:
    seconds = window_minutes_on(schedule, day) * 60 if schedule.windows else 86400.0
    fits = _interval_capacity(schedule, seconds, day)
    caps = [fits] + ([schedule.daily_cap] if schedule.daily_cap is not None else [])
    best = min(caps)
    return None if best == math.inf else int(best)


def backoff(attempt: int, base: float, ceiling: float, jitter: float) -> float:
    """Seconds to wait before try ``attempt + 1``: doubling from ``base`` up to
    ``ceiling``, spread by ``jitter`` (a fraction in 0..1, drawn by the caller)."""
    delay = min(ceiling, base * 2 ** max(0, attempt - 1))
    return delay * (1 + jitter * 0.25)


def next_occurrence(days: frozenset[int], at: time, tz: tzinfo, after: datetime) -> datetime:
    """The first ``at`` o'clock on one of ``days`` strictly after ``after``."""
    local = after.astimezone(tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        candidate = datetime.combine(day, at, tz)
        if day.weekday() in days and candidate > after:
            return candidate
    raise ValueError("a recurring send needs at least one day")
