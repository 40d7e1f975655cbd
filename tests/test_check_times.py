"""Sending modes, check intervals and preset times, with fixed times: windows, dated
sessions, midnight and the DST change days (Europe/London)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from postroom.check_times import (
    last_check,
    mailbox_due,
    next_check,
    next_release,
    released_until,
)
from postroom.scheduling import Schedule, Session, Window, parse_days

LONDON = ZoneInfo("Europe/London")
WEEKDAYS = Window(parse_days("mon-fri"), time(8), time(17))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def local(moments) -> list[str]:
    return [m.astimezone(LONDON).strftime("%m-%d %H:%M") for m in moments]


def checks_on(schedule: Schedule, day: date) -> list[datetime]:
    """Every check on local ``day``, found one after the other by ``next_check``."""
    moment = datetime.combine(day, time(0), LONDON) - timedelta(microseconds=1)
    end = datetime.combine(day + timedelta(days=1), time(0), LONDON)
    found = []
    while (moment := next_check(schedule, moment)) is not None and moment < end:
        found.append(moment)
    return found


def scheduled(every: int | None = None, presets=(), windows=(), sessions=(),
              mode="scheduled") -> Schedule:
    return Schedule(tuple(windows), LONDON, sessions=tuple(sessions), mode=mode,
                    check_every=None if every is None else timedelta(minutes=every),
                    at=tuple(time.fromisoformat(p) for p in presets))


def test_checks_every_interval_run_from_the_window_opening_to_its_close():
    schedule = scheduled(every=90, windows=[WEEKDAYS])
    assert local(checks_on(schedule, date(2026, 3, 4))) == [
        "03-04 08:00", "03-04 09:30", "03-04 11:00", "03-04 12:30", "03-04 14:00",
        "03-04 15:30"]
    assert checks_on(schedule, date(2026, 3, 7)) == []  # a Saturday: the window is shut


def test_preset_times_count_only_inside_a_window_or_session():
    schedule = scheduled(presets=["07:30", "09:00", "13:00"], windows=[WEEKDAYS])
    assert local(checks_on(schedule, date(2026, 3, 4))) == ["03-04 09:00", "03-04 13:00"]
    anytime = scheduled(presets=["07:30", "13:00"])
    assert local(checks_on(anytime, date(2026, 3, 7))) == ["03-07 07:30", "03-07 13:00"]


def test_interval_and_preset_times_together_each_once():
    schedule = scheduled(every=120, presets=["09:00", "10:00"], windows=[WEEKDAYS])
    assert local(checks_on(schedule, date(2026, 3, 4)))[:4] == [
        "03-04 08:00", "03-04 09:00", "03-04 10:00", "03-04 12:00"]


def test_without_windows_the_interval_runs_from_local_midnight():
    schedule = scheduled(every=360)
    assert local(checks_on(schedule, date(2026, 3, 4))) == [
        "03-04 00:00", "03-04 06:00", "03-04 12:00", "03-04 18:00"]


def test_spring_forward_day_has_one_hour_less_of_checks():
    schedule = scheduled(every=60)
    day = checks_on(schedule, date(2026, 3, 29))  # clocks go 01:00 -> 02:00
    assert len(day) == 23
    assert local(day)[:3] == ["03-29 00:00", "03-29 02:00", "03-29 03:00"]
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(day))


def test_fall_back_day_has_one_hour_more_and_a_preset_time_once():
    schedule = scheduled(every=60, presets=["01:30"])
    day = checks_on(schedule, date(2026, 10, 25))  # 01:00-02:00 happens twice
    assert len([c for c in day if c.minute == 0]) == 25
    assert [c for c in day if c.minute == 30] == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]


def test_a_preset_time_the_clocks_skip_is_an_hour_later_on_the_wall():
    schedule = scheduled(presets=["01:30"])
    (check,) = checks_on(schedule, date(2026, 3, 29))
    assert check == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 BST


def test_a_window_past_midnight_keeps_checking_after_midnight():
    night = Window(parse_days("fri"), time(22), time(2))
    schedule = scheduled(every=60, windows=[night])
    assert last_check(schedule, at("2026-03-07T01:10")) == at("2026-03-07T01:00")
    assert next_check(schedule, at("2026-03-07T01:10")) == at("2026-03-13T22:00")


def test_a_preset_time_after_midnight_inside_a_night_window():
    night = Window(parse_days("fri"), time(22), time(2))
    schedule = scheduled(every=60, presets=["00:30"], windows=[night])
    assert last_check(schedule, at("2026-03-07T01:10")) == at("2026-03-07T01:00")
    assert last_check(schedule, at("2026-03-07T00:40")) == at("2026-03-07T00:30")
    assert next_check(schedule, at("2026-03-06T23:10")) == at("2026-03-07T00:00")
    assert next_check(schedule, at("2026-03-07T00:10")) == at("2026-03-07T00:30")
    assert next_check(schedule, at("2026-03-07T00:40")) == at("2026-03-07T01:00")


def test_last_and_next_check_across_midnight():
    schedule = scheduled(presets=["09:00", "13:00"])
    assert last_check(schedule, at("2026-03-04T08:59")) == at("2026-03-03T13:00")
    assert last_check(schedule, at("2026-03-04T09:00")) == at("2026-03-04T09:00")
    assert next_check(schedule, at("2026-03-04T09:00")) == at("2026-03-04T13:00")
    assert next_check(schedule, at("2026-03-04T23:59")) == at("2026-03-05T09:00")


def test_checks_in_dated_sessions_only():
    sessions = [Session(date(2026, 12, 3), time(9), time(12)),
                Session(date(2026, 12, 10), time(14), time(15))]
    schedule = scheduled(every=60, sessions=sessions)
    assert local(checks_on(schedule, date(2026, 12, 3))) == [
        "12-03 09:00", "12-03 10:00", "12-03 11:00"]
    assert next_check(schedule, at("2026-11-20T10:00")) == at("2026-12-03T09:00")
    assert next_check(schedule, at("2026-12-03T11:00")) == at("2026-12-10T14:00")
    assert next_check(schedule, at("2026-12-10T14:00")) is None  # the last session's last
    assert last_check(schedule, at("2026-12-09T10:00")) == at("2026-12-03T11:00")
    assert last_check(schedule, at("2026-12-02T10:00")) is None


def test_what_each_mode_releases():
    now = at("2026-03-04T10:15")
    assert released_until(Schedule(timezone=LONDON), now) == now.timestamp()
    assert released_until(scheduled(mode="manual"), now) == -math.inf
    every = scheduled(every=30, windows=[WEEKDAYS])
    assert released_until(every, now) == at("2026-03-04T10:00").timestamp()
    assert next_release(every, now) == at("2026-03-04T10:30").timestamp()
    before_any = scheduled(presets=["09:00"], sessions=[Session(date(2026, 12, 3), time(9),
                                                                time(12))])
    assert released_until(before_any, now) == -math.inf
    assert next_release(Schedule(), now) is None
    assert next_release(scheduled(mode="manual"), now) is None


def test_the_mailbox_is_read_at_the_checks_or_on_its_own_interval():
    every = timedelta(minutes=5)
    schedule = scheduled(presets=["09:00", "13:00"])
    now = at("2026-03-04T10:00")
    assert mailbox_due(schedule, every, None, now) == at("2026-03-04T09:00")
    assert mailbox_due(schedule, every, at("2026-03-04T09:00"), now) == at("2026-03-04T13:00")
    plain = Schedule(timezone=LONDON)
    assert mailbox_due(plain, every, None, now) == now
    assert mailbox_due(plain, every, at("2026-03-04T09:58"), now) == at("2026-03-04T10:03")
