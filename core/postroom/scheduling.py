"""When messages may go: send windows, rate limits, daily caps, staggering, estimates.

Pure functions of a ``Schedule``, the account's ``Usage`` and the time; no
clock, no I/O, so every rule is tested with fixed times. All datetimes are
timezone-aware; windows and the daily cap's "day" are read in the schedule's
time zone, so DST change days have 23 or 25 hours as they do on the wall.
A wall-clock time the clocks skip on such a day opens or closes a window at
the moment of the jump (``localize``), so a window keeps the part that exists.

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

from attrs import evolve, field, frozen

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
class Session:
    """A dated stretch in which sending is allowed, beside the weekly windows:
    ``day`` from ``start`` to ``end`` (past midnight when ``end`` is not after
    ``start``), as an admin books "3 December, 09:00-12:00"."""

    day: date
    start: time
    end: time

    def intervals_on(self, day: date, tz: tzinfo) -> list[tuple[datetime, datetime]]:
        """This session, as aware datetimes, if it starts on ``day``."""
        if day != self.day:
            return []
        return Window(frozenset({day.weekday()}), self.start, self.end).intervals_on(day, tz)


#: How an account's queue goes out: as soon as the limits allow, at its checks
#: (``check_every``, ``at``) within its windows and sessions, or only when an
#: operator flushes it.
MODES = ("immediate", "scheduled", "manual")


@frozen
class Schedule:
    """An account's sending rules. ``None`` means no limit of that kind.

    - ``windows``: when sending is allowed, every week; ``sessions``: dated
      stretches when it is allowed too. With neither, any time.
    - ``mode``: ``immediate``, ``scheduled`` or ``manual`` (see ``MODES`` and
      ``postroom.check_times``); ``check_every`` and ``at`` are a scheduled
      account's checks: every so long within each open stretch, and at these
      local times of day.
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
    sessions: tuple[Session, ...] = ()
    mode: str = "immediate"
    check_every: timedelta | None = None
    at: tuple[time, ...] = ()

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.timezone)

    @property
    def restricted(self) -> bool:
        """Whether windows or sessions limit when the account may send."""
        return bool(self.windows or self.sessions)

    @property
    def last_session(self) -> date | None:
        return max((s.day for s in self.sessions), default=None)

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

    def as_of(self, now: datetime) -> Usage:
        """The usage as seen at ``now``, without the sends recorded later than
        ``now``: the clock has stepped back since they went. Counting them would
        hold every limit for the size of the step; left out, a limit may let
        one span's worth more go at the step, once. (Counting them as sent at
        ``now`` would not help: without a record of the step, "now" moves on
        with the clock and they would stay inside every span.)"""
        if not self.recent or self.recent[-1] <= now:
            return self
        return evolve(self, recent=tuple(t for t in self.recent if t <= now))


class NeverOpen(ValueError):
    """No window or session opens from this time on (every session is past)."""


def open_intervals(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """Every window and session stretch that starts on local ``day``, in order."""
    tz = schedule.timezone
    found = [iv for rule in (*schedule.windows, *schedule.sessions)
             for iv in rule.intervals_on(day, tz)]
    return sorted(found)


def search_days(schedule: Schedule, at: datetime) -> int:
    """How many days from ``at``'s a search for an open stretch looks at: two
    weeks of windows, or as far as the last session."""
    last = schedule.last_session
    ahead = (last - schedule.local(at).date()).days + 1 if last else 0
    return max(SEARCH_DAYS if schedule.windows else 0, ahead)


def _intervals_around(schedule: Schedule, at: datetime):
    """Open stretches from the day before ``at`` onwards (yesterday's may run past midnight)."""
    first = schedule.local(at).date() - timedelta(days=1)
    for offset in range(search_days(schedule, at) + 1):
        yield from open_intervals(schedule, first + timedelta(days=offset))


def is_open(schedule: Schedule, at: datetime) -> bool:
    if not schedule.restricted:
        return True
    try:
        return next_open(schedule, at) == at
    except NeverOpen:
        return False


def next_open(schedule: Schedule, at: datetime) -> datetime:
    """``at`` itself when a window or session is open, else when the next one opens;
    ``NeverOpen`` when none ever does again."""
    if not schedule.restricted:
        return at
    for start, end in _intervals_around(schedule, at):
        if end > at:
            return max(start, at)
    raise NeverOpen("no send window or session opens again: every session is past and "
                    "there are no weekly windows; add a session or a window")


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
    if schedule.daily_cap is not None and schedule.restricted:
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
    return local_midnight(schedule, schedule.local(at).date())


def next_day_start(schedule: Schedule, at: datetime) -> datetime:
    """When the account's next day begins after ``at``."""
    return local_midnight(schedule, schedule.local(at).date() + timedelta(days=1))


def local_midnight(schedule: Schedule, day: date) -> datetime:
    """Midnight at the start of local ``day``, in UTC."""
    return localize(datetime.combine(day, time(0)), schedule.timezone)


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


def _bucket_at(schedule: Schedule, bucket: float | None, now: float) -> float:
    """The bucket's state as seen at ``now``, never behind it.

    Claims leave it at most a full bucket ahead; further ahead, the clock has
    stepped back since, and the bucket restarts with one claim free rather than
    holding the rate for the size of the step.
    """
    interval = _interval(schedule)
    at = max(bucket or now, now)
    if at - now > schedule.burst * interval + 1.0:  # a second's leeway for rounding
        return now + (schedule.burst - 1) * interval
    return at


def _tokens(schedule: Schedule, bucket: float | None, now: float) -> int:
    """How many claims the ``per_second`` bucket allows at ``now``."""
    interval = _interval(schedule)
    ahead = _bucket_at(schedule, bucket, now) - now
    # A hair of tolerance: the wake-up time computed below must allow one claim.
    return max(0, math.floor(schedule.burst - ahead / interval + 1e-9))


def bucket_after(schedule: Schedule, bucket: float | None, now: datetime,
                 count: int) -> float | None:
    """The bucket's state after ``count`` claims at ``now`` (GCRA: the theoretical
    arrival time moves one interval per claim, from now when it lies behind)."""
    if schedule.per_second is None or count <= 0:
        return bucket
    stamp = now.timestamp()
    return _bucket_at(schedule, bucket, stamp) + count * _interval(schedule)


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
    usage = usage.as_of(now)
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
        ready = (_bucket_at(schedule, usage.bucket, now.timestamp())
                 - (schedule.burst - 1) * _interval(schedule))
        at = max(at, datetime.fromtimestamp(ready, UTC))
    return at if manual else next_open(schedule, at)


def allowance(schedule: Schedule, usage: Usage, now: datetime, manual: bool = False) -> int:
    """How many messages may go right now, as one batch (0: wait).

    When nothing limits the count it is a large number: callers cap it with
    their batch size.
    """
    now = now.astimezone(UTC)
    usage = usage.as_of(now)
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
class SessionFit:
    """One upcoming dated session: ``fits`` messages fit in it (under the rates and
    the daily cap, counting what its day already sent; None: no limit), and
    ``placed`` of the send estimated go in it."""

    start: datetime
    end: datetime
    fits: int | None
    placed: int = 0


@frozen
class DayFit:
    """A day with sessions: ``fits`` messages fit in it (its windows and sessions,
    within the daily cap; None: no limit), and ``placed`` of the send estimated go on it."""

    day: date
    fits: int | None
    placed: int = 0


@frozen
class Estimate:
    """How a bulk send of ``count`` messages will go out.

    ``per_minute`` is the effective rate (None: no limit), ``per_day`` how many
    a full day allows (None: no limit), ``start`` when the first message may
    go, ``finish`` when the last goes, ``days`` the calendar days it spans,
    and ``warning`` a sentence when it takes longer than the configured number
    of days. ``sessions`` and ``session_days`` say how many fit in each
    upcoming dated session and on each day that has one; ``note`` is a
    further word for people (a manual account's messages wait for a flush).
    """

    count: int
    per_minute: float | None
    per_day: int | None
    start: datetime
    finish: datetime
    days: int
    warning: str | None = None
    sessions: tuple[SessionFit, ...] = ()
    session_days: tuple[DayFit, ...] = ()
    note: str | None = None


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


def _stretches(schedule: Schedule, day: date, now: datetime) -> list[tuple[datetime, datetime]]:
    """The open stretches of ``day`` still to come after ``now``, as they start."""
    if schedule.restricted:
        return [(s, e) for s, e in open_intervals(schedule, day) if e > now]
    start = max(now, local_midnight(schedule, day))
    return [(start, next_day_start(schedule, start))]


def _room(schedule: Schedule, already: int) -> float:
    """What the daily cap leaves of a day that sent ``already``."""
    return math.inf if schedule.daily_cap is None else schedule.daily_cap - already


def _capacity(schedule: Schedule, day: date, start: datetime, end: datetime,
              now: datetime) -> float:
    """How many fit from ``start`` (or ``now``, if later) to ``end`` under the rates."""
    return _interval_capacity(schedule, (end - max(start, now)).total_seconds(), day)


def estimate(schedule: Schedule, count: int, now: datetime, usage: Usage | None = None,
             warn_after_days: float | None = None, max_days: int = 3660,
             start: datetime | None = None) -> Estimate:
    """Walk the days ahead, filling each window and session until ``count`` messages
    are placed. ``start`` is when the first may go, if later than ``now`` (a
    scheduled account's next check); ``NeverOpen`` when they do not all fit in
    the sessions configured and no weekly window comes after them."""
    usage = usage or Usage()
    now = now.astimezone(UTC)
    begin = max(now, start.astimezone(UTC)) if start is not None else now
    today = schedule.local(now).date()
    sessions = {iv: SessionFit(*iv, 0) for s in schedule.sessions
                for iv in s.intervals_on(s.day, schedule.timezone) if iv[1] > begin}
    remaining = float(count)
    day = schedule.local(begin).date()
    finish = begin
    days_placed: dict[date, float] = {}
    for _ in range(max_days):
        if not schedule.windows and (schedule.last_session or day) < day:
            fit = count - math.ceil(remaining)
            raise NeverOpen(f"only {fit} of the {count} messages fit in the sessions "
                            "configured; add sessions or weekly windows")
        day_room = _room(schedule, usage.today + usage.in_flight if day == today else 0)
        for opens, closes in _stretches(schedule, day, begin):
            if remaining <= 0 or day_room <= 0:
                break
            fits = min(_capacity(schedule, day, opens, closes, begin), day_room)
            placed = min(fits, remaining)
            spacing = _seconds_per_message(schedule, day)
            finish = max(opens, begin) + timedelta(
                seconds=max(0.0, math.ceil(placed) - 1) * spacing)
            remaining -= placed
            day_room -= placed
            days_placed[day] = days_placed.get(day, 0) + placed
            if (opens, closes) in sessions:
                sessions[opens, closes] = evolve(sessions[opens, closes],
                                                 placed=math.ceil(placed))
        if remaining <= 0:
            break
        day += timedelta(days=1)
    else:
        raise ValueError(f"{count} messages do not fit in {max_days} days under these limits")
    days = (schedule.local(finish).date() - today).days + 1
    warning = None
    if warn_after_days is not None and (finish - now) > timedelta(days=warn_after_days):
        until = schedule.local(finish).strftime("%a %d %b %H:%M")
        warning = (f"sending {count} messages will take until {until} ({days} days), longer "
                   f"than the {warn_after_days:g} days configured; raise the limits, widen the "
                   "windows, add sessions or split the send")
    fitted = tuple(_session_fits(schedule, sessions, usage, today, begin))
    session_days = tuple(DayFit(d, _day_fits(schedule, d, usage, today, begin),
                                math.ceil(days_placed.get(d, 0)))
                         for d in sorted({schedule.local(f.start).date() for f in fitted}))
    return Estimate(count, per_minute_limit(schedule, today), _per_day(schedule, today),
                    begin, finish, days, warning, fitted, session_days)


def _session_fits(schedule: Schedule, sessions: dict, usage: Usage, today: date,
                  begin: datetime):
    """Each upcoming session with how many fit in it, its day's cap counted."""
    for (opens, closes), found in sorted(sessions.items()):
        day = schedule.local(opens).date()
        room = _room(schedule, usage.today + usage.in_flight if day == today else 0)
        fits = min(_capacity(schedule, day, opens, closes, begin), room)
        yield evolve(found, fits=None if fits == math.inf else int(fits))


def _day_fits(schedule: Schedule, day: date, usage: Usage, today: date,
              begin: datetime) -> int:
    """How many fit on ``day`` in its stretches still to come, within the daily cap
    (None: no limit)."""
    total = sum(_capacity(schedule, day, s, e, begin) for s, e in _stretches(schedule, day, begin))
    fits = min(total, _room(schedule, usage.today + usage.in_flight if day == today else 0))
    return None if fits == math.inf else int(fits)


def _per_day(schedule: Schedule, day: date) -> int | None:
    seconds = window_minutes_on(schedule, day) * 60 if schedule.restricted else 86400.0
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
