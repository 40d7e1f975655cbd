"""Dated sessions beside weekly windows, with fixed times: when sending may happen, and
how many messages an estimate fits in each session and each day."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from postroom.scheduling import (
    NeverOpen,
    Schedule,
    Session,
    Usage,
    Window,
    estimate,
    is_open,
    next_open,
    parse_days,
)
from postroom.store.accounting import plan_claim

LONDON = ZoneInfo("Europe/London")
MORNING = Session(date(2026, 12, 3), time(9), time(12))
AFTERNOON = Session(date(2026, 12, 3), time(14), time(15))
LATER = Session(date(2026, 12, 17), time(9), time(10))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def test_sessions_alone_open_only_on_their_dates():
    schedule = Schedule(timezone=LONDON, sessions=(MORNING, LATER))
    assert is_open(schedule, at("2026-12-03T10:00"))
    assert not is_open(schedule, at("2026-12-03T12:00"))
    assert not is_open(schedule, at("2026-12-10T10:00"))  # the same weekday, another week
    # Further off than the two weeks windows are searched: sessions are found all the same.
    assert next_open(schedule, at("2026-11-01T08:00")) == at("2026-12-03T09:00")
    assert next_open(schedule, at("2026-12-03T12:30")) == at("2026-12-17T09:00")
    with pytest.raises(NeverOpen, match="every session is past"):
        next_open(schedule, at("2026-12-17T10:00"))
    after = plan_claim(schedule, Usage(), at("2026-12-18T10:00").timestamp(), 10)
    assert (after.manual, after.total, after.wake) == (10, 10, None)  # only "send now" goes
    assert after.released == -math.inf  # and no other


def test_a_session_adds_to_the_weekly_windows():
    weekdays = Window(parse_days("mon-fri"), time(9), time(17))
    saturday = Session(date(2026, 12, 5), time(10), time(12))
    schedule = Schedule((weekdays,), LONDON, sessions=(saturday,))
    assert is_open(schedule, at("2026-12-05T11:00"))
    assert not is_open(schedule, at("2026-12-06T11:00"))
    assert next_open(schedule, at("2026-12-04T18:00")) == at("2026-12-05T10:00")


def test_a_session_past_midnight_runs_into_the_next_day():
    night = Session(date(2026, 12, 3), time(23), time(1))
    schedule = Schedule(timezone=LONDON, sessions=(night,))
    assert is_open(schedule, at("2026-12-04T00:30"))
    assert not is_open(schedule, at("2026-12-04T01:00"))


def test_a_session_on_the_spring_forward_day_lasts_its_real_hours():
    session = Session(date(2026, 3, 29), time(0), time(4))
    schedule = Schedule(timezone=LONDON, sessions=(session,), per_minute=1)
    found = estimate(schedule, 100, at("2026-03-20T08:00"))
    assert found.sessions[0].fits == 180  # 00:00-04:00 on the wall is three real hours


def test_estimate_says_how_many_fit_per_session_and_per_day():
    schedule = Schedule(timezone=LONDON, sessions=(MORNING, AFTERNOON, LATER), per_minute=2,
                        daily_cap=400)
    found = estimate(schedule, 500, at("2026-11-30T08:00"), warn_after_days=30)
    assert [(s.start, s.fits, s.placed) for s in found.sessions] == [
        (at("2026-12-03T09:00"), 360, 360), (at("2026-12-03T14:00"), 120, 40),
        (at("2026-12-17T09:00"), 120, 100)]
    assert [(d.day, d.fits, d.placed) for d in found.session_days] == [
        (date(2026, 12, 3), 400, 400), (date(2026, 12, 17), 120, 100)]
    assert found.start == at("2026-11-30T08:00")
    assert found.finish == at("2026-12-17T09:49:30")
    assert found.warning is None


def test_estimate_warns_when_the_sessions_take_longer_than_configured():
    schedule = Schedule(timezone=LONDON, sessions=(MORNING, LATER), per_minute=1)
    found = estimate(schedule, 200, at("2026-12-01T08:00"), warn_after_days=3)
    assert found.finish == at("2026-12-17T09:19")
    assert "longer than the 3 days configured" in found.warning
    assert "add sessions" in found.warning


def test_estimate_names_what_does_not_fit_in_the_sessions():
    schedule = Schedule(timezone=LONDON, sessions=(MORNING,), per_minute=1)
    with pytest.raises(NeverOpen, match="only 180 of the 500 messages fit"):
        estimate(schedule, 500, at("2026-12-01T08:00"))


def test_estimate_counts_what_the_day_sent_already():
    schedule = Schedule(timezone=LONDON, sessions=(MORNING,), daily_cap=100)
    found = estimate(schedule, 10, at("2026-12-03T10:00"), Usage(today=80))
    assert (found.sessions[0].fits, found.session_days[0].fits) == (20, 20)


def test_estimate_starts_at_a_later_start_given():
    schedule = Schedule(timezone=LONDON, per_minute=10)
    found = estimate(schedule, 20, at("2026-12-01T08:05"), start=at("2026-12-01T09:00"))
    assert (found.start, found.finish) == (at("2026-12-01T09:00"),
                                           at("2026-12-01T09:00") + timedelta(seconds=114))
