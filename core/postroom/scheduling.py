"""When messages may go: send windows, rate limits, daily caps, staggering, estimates.

Pure functions of a ``Schedule``, the account's ``Usage`` and the time; no
clock, no I/O, so every rule is tested with fixed times. All datetimes are
timezone-aware; windows and the daily cap's "day" are read in the schedule's
time zone, so DST change days have 23 or 25 hours as they do on the wall.

How the limits count, so that they hold for any number of workers (the store
asks ``allowance`` inside the transaction that claims the messages):

- ``per_minute``, ``per_hour`` and ``daily_cap`` count the messages in flight
  (claimed by any worker, not finished) plus the sent ones whose completion
  time (when the engine had the provider's answer) falls inside the window.
  A message reaches the provider between its claim and its completion, so
  whatever the delays, the provider never sees more in a window than allowed.
- ``min_gap`` and ``stagger``: nothing is claimed while another message of the
  account is in flight, and the gap runs from the last completion.
- ``per_second`` is a token bucket (GCRA on claim times) of ``burst`` tokens:
  claims are spaced ``1 / per_second`` apart, at most ``burst`` at once, never
  a minute's worth in one go.
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
        opens = datetime.combine(day, self.start, tz)
        closes_on = day if self.end > self.start else day + timedelta(days=1)
        # In UTC, because aware datetimes sharing a zone subtract as wall-clock times.
        return [(opens.astimezone(UTC), datetime.combine(closes_on, self.end, tz).astimezone(UTC))]


@frozen
class Schedule:
    """An account's sending rules. ``None`` means no limit of that kind.

    - ``windows``: when sending is allowed; empty means any time.
    - ``per_second``/``per_minute``/``per_hour``: rate limits.
    - ``burst``: how many ``per_second`` lets go at once (the bucket's size).
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
    burst: int = 1

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.timezone)

    @property
    def limited(self) -> bool:
        """Whether any rule counts the account's messages."""
        return any(x is not None for x in (self.per_second, self.per_minute, self.per_hour,
                                           self.daily_cap)) or bool(self.min_gap or self.stagger)


@frozen
class Usage:
    """What counts against an account's limits at one moment.

    - ``recent``: completion times of sent messages (when the engine had the
      provider's answer), oldest first; only as far back and as many as the
      rules need (see ``usage_needed``).
    - ``today``: messages sent since the account's day began (``day_start``).
    - ``in_flight``: messages claimed by any worker and not finished, under a
      lease still running; each counts as if it completed now.
    - ``bucket``: the ``per_second`` bucket's state, the theoretical arrival
      time of the next claim (epoch seconds), or None for a full bucket.
    """

    recent: tuple[datetime, ...] = field(default=(), converter=tuple)
    today: int = 0
    in_flight: int = 0
    bucket: float | None = None

    @property
    def last(self) -> datetime | None:
        return self.recent[-1] if self.recent else None

    def since(self, at: datetime) -> int:
        return sum(1 for t in self.recent if t > at)


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


def minute_limit(schedule: Schedule, day: date) -> int | None:
    """How many messages may go in any minute on ``day``, counted as ``per_minute`` is.

    ``per_minute``; when it is not given but a daily cap and windows are, the
    cap spread over that day's window time, rounded down and never below 1 a
    minute (the cap itself still stops sending once reached). ``per_second``
    is not counted here: its bucket spaces the claims.
    """
    if schedule.per_minute is not None:
        return schedule.per_minute
    if schedule.daily_cap is not None and schedule.windows:
        minutes = window_minutes_on(schedule, day)
        if minutes > 0:
            return max(1, math.floor(schedule.daily_cap / minutes))
    return None


def per_minute_limit(schedule: Schedule, day: date) -> float | None:
    """The effective per-minute rate on ``day``: the tightest of ``per_second``
    and ``minute_limit``, for estimates."""
    limits = [float(x) for x in (minute_limit(schedule, day),) if x is not None]
    if schedule.per_second is not None:
        limits.append(schedule.per_second * 60)
    return min(limits) if limits else None


def day_start(schedule: Schedule, at: datetime) -> datetime:
    """When the account's day that holds ``at`` began: local midnight, for the daily cap."""
    return _midnight(schedule, schedule.local(at).date())


def next_day_start(schedule: Schedule, at: datetime) -> datetime:
    """When the account's next day begins after ``at``."""
    return _midnight(schedule, schedule.local(at).date() + timedelta(days=1))


def _midnight(schedule: Schedule, day: date) -> datetime:
    return datetime.combine(day, time(0), schedule.timezone).astimezone(UTC)


def usage_needed(schedule: Schedule, at: datetime) -> tuple[float, int]:
    """How far back (seconds) and how many of the account's newest sends the rules
    count at ``at``: a busy account's sends are never all read on each claim."""
    spans, counts = [0.0], [0]
    per_minute = minute_limit(schedule, schedule.local(at).date())
    if per_minute is not None:
        spans.append(60.0)
        counts.append(per_minute)
    if schedule.per_hour is not None:
        spans.append(3600.0)
        counts.append(schedule.per_hour)
    gap = max(schedule.min_gap, schedule.stagger)
    if gap:
        spans.append(gap)
        counts.append(1)
    return max(spans), max(counts)


def _interval(schedule: Schedule) -> float:
    """Seconds between two claims under ``per_second``."""
    return 1.0 / schedule.per_second  # type: ignore[operator]


def _tokens(schedule: Schedule, bucket: float | None, now: float) -> int:
    """How many claims the ``per_second`` bucket allows at ``now``."""
    interval = _interval(schedule)
    ahead = max(bucket or now, now) - now
    # A hair of tolerance: the wake-up time computed below must allow one claim.
    return max(0, math.floor(schedule.burst - ahead / interval + 1e-9))


def bucket_after(schedule: Schedule, bucket: float | None, now: datetime,
                 count: int) -> float | None:
    """The bucket's state after ``count`` claims at ``now`` (GCRA: the theoretical
    arrival time moves one interval per claim, from now when it lies behind)."""
    if schedule.per_second is None or count <= 0:
        return bucket
    stamp = now.timestamp()
    return max(bucket or stamp, stamp) + count * _interval(schedule)


def earliest_send(schedule: Schedule, usage: Usage, now: datetime,
                  manual: bool = False) -> datetime:
    """The earliest time the account's next message may go.

    ``manual`` (an operator's "send now") skips the stagger delay and the send
    windows, but not rates, the minimum gap or the daily cap: those are the
    provider's limits, and breaking them gets the account blocked. While
    messages are in flight the answer is a lower bound: they count until
    they finish, and a window's worth after.
    """
    now = at = now.astimezone(UTC)
    gap = schedule.min_gap if manual else max(schedule.min_gap, schedule.stagger)
    if gap and usage.in_flight:
        at = max(at, now + timedelta(seconds=gap))
    elif gap and usage.last is not None:
        at = max(at, usage.last + timedelta(seconds=gap))
    per_minute = minute_limit(schedule, schedule.local(now).date())
    for allowed, span in ((per_minute, 60.0), (schedule.per_hour, 3600.0)):
        if allowed is None:
            continue
        inside = [t for t in usage.recent if t > now - timedelta(seconds=span)]
        # How many counted messages must leave the span before one more fits.
        excess = usage.in_flight + len(inside) - allowed + 1
        if excess > len(inside):  # messages in flight leave the span only after finishing
            at = max(at, now + timedelta(seconds=span))
        elif excess > 0:
            at = max(at, inside[excess - 1] + timedelta(seconds=span))
    if schedule.daily_cap is not None and usage.today + usage.in_flight >= schedule.daily_cap:
        at = max(at, next_day_start(schedule, now))
    if schedule.per_second is not None and usage.bucket is not None:
        ready = usage.bucket - (schedule.burst - 1) * _interval(schedule)
        at = max(at, datetime.fromtimestamp(ready, UTC))
    return at if manual else next_open(schedule, at)


def allowance(schedule: Schedule, usage: Usage, now: datetime, manual: bool = False) -> int:
    """How many messages may go right now, as one batch (0: wait).

    When nothing limits the count it is a large number: callers cap it with
    their batch size.
    """
    now = now.astimezone(UTC)
    if earliest_send(schedule, usage, now, manual) > now:
        return 0
    counts = [10**9]
    if schedule.min_gap or (schedule.stagger and not manual):
        counts.append(1)
    per_minute = minute_limit(schedule, schedule.local(now).date())
    if per_minute is not None:
        counts.append(per_minute - usage.in_flight - usage.since(now - timedelta(minutes=1)))
    if schedule.per_hour is not None:
        counts.append(schedule.per_hour - usage.in_flight
                      - usage.since(now - timedelta(hours=1)))
    if schedule.daily_cap is not None:
        counts.append(schedule.daily_cap - usage.in_flight - usage.today)
    if schedule.per_second is not None:
        counts.append(_tokens(schedule, usage.bucket, now.timestamp()))
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


def estimate(schedule: Schedule, count: int, now: datetime, usage: Usage | None = None,
             warn_after_days: float | None = None, max_days: int = 3660) -> Estimate:
    """Walk the days ahead, filling each window until ``count`` messages are placed."""
    usage = usage or Usage()
    now = now.astimezone(UTC)
    remaining = float(count)
    day = schedule.local(now).date()
    finish = now
    sent_today = usage.today + usage.in_flight
    for _ in range(max_days):
        if schedule.windows:
            stretches = [(max(s, now), e) for s, e in open_intervals(schedule, day) if e > now]
        else:
            start = max(now, _midnight(schedule, day))
            stretches = [(start, next_day_start(schedule, start))]
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
