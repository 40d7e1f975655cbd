"""The scheduling maths, with fixed times: windows, DST, caps, rates, stagger, estimates."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from postroom.scheduling import (
    Schedule,
    Usage,
    Window,
    allowance,
    backoff,
    bucket_after,
    day_start,
    earliest_send,
    estimate,
    is_open,
    next_occurrence,
    next_open,
    parse_days,
    per_minute_limit,
    usage_needed,
    window_minutes_on,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = Window(parse_days("mon-fri"), time(8), time(17))


def at(text: str, tz=LONDON) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


@pytest.mark.parametrize(("spec", "days"), [
    ("mon-fri", {0, 1, 2, 3, 4}), ("sat,sun", {5, 6}), ("daily", set(range(7))),
    ("fri-mon", {4, 5, 6, 0}), ("Wed", {2}), ("mon,wed-thu", {0, 2, 3}),
])
def test_parse_days(spec, days):
    assert parse_days(spec) == days


@pytest.mark.parametrize("bad", ["weekdays", "mon-funday", "", "1-5"])
def test_parse_days_refuses_what_it_cannot_read(bad):
    with pytest.raises(ValueError, match="expected days such as"):
        parse_days(bad)


def test_no_windows_means_always_open():
    schedule = Schedule()
    now = at("2026-11-28T03:00")  # a Saturday night
    assert is_open(schedule, now)
    assert next_open(schedule, now) == now


def test_office_hours_wait_over_the_weekend():
    schedule = Schedule(windows=(OFFICE,), timezone=LONDON)
    assert is_open(schedule, at("2026-11-23T08:00"))
    assert not is_open(schedule, at("2026-11-23T17:00"))  # the end is exclusive
    assert next_open(schedule, at("2026-11-27T18:30")) == at("2026-11-30T08:00")
    assert next_open(schedule, at("2026-11-23T07:59")) == at("2026-11-23T08:00")


def test_a_window_crossing_midnight_belongs_to_the_day_it_opens():
    night = Window(parse_days("mon"), time(22), time(6))
    schedule = Schedule(windows=(night,), timezone=LONDON)
    assert is_open(schedule, at("2026-11-23T23:30"))   # Monday night
    assert is_open(schedule, at("2026-11-24T05:59"))   # Tuesday early, still Monday's window
    assert not is_open(schedule, at("2026-11-24T22:30"))  # Tuesday night: not a window day
    assert next_open(schedule, at("2026-11-24T06:00")) == at("2026-11-30T22:00")
    assert window_minutes_on(schedule, at("2026-11-23T00:00").date()) == 8 * 60


def test_windows_are_read_in_their_own_time_zone():
    schedule = Schedule(windows=(OFFICE,), timezone=NEW_YORK)
    utc_noon = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 07:00 in New York
    assert not is_open(schedule, utc_noon)
    assert next_open(schedule, utc_noon) == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def test_dst_change_days_have_their_real_length():
    early = Window(parse_days("daily"), time(0), time(4))
    schedule = Schedule(windows=(early,), timezone=LONDON)
    assert window_minutes_on(schedule, at("2026-03-29T00:00").date()) == 180  # clocks forward
    assert window_minutes_on(schedule, at("2026-10-25T00:00").date()) == 300  # clocks back
    assert window_minutes_on(schedule, at("2026-10-26T00:00").date()) == 240


def test_the_daily_cap_is_spread_over_the_window():
    day = at("2026-11-23T00:00").date()
    window = (OFFICE,)  # 9 hours = 540 minutes
    assert per_minute_limit(Schedule(window, LONDON, daily_cap=1080), day) == 2
    assert per_minute_limit(Schedule(window, LONDON, daily_cap=1079), day) == 1  # rounds down
    assert per_minute_limit(Schedule(window, LONDON, daily_cap=100), day) == 1   # never below 1
    assert per_minute_limit(Schedule(daily_cap=100), day) is None  # no window: nothing to spread
    assert per_minute_limit(Schedule(window, LONDON, daily_cap=1080, per_minute=5), day) == 5
    assert per_minute_limit(Schedule(per_second=0.5, per_minute=100), day) == 30


def test_the_rate_limit_waits_for_the_oldest_send_in_the_minute_to_age():
    schedule = Schedule(per_minute=2)
    now = at("2026-11-23T10:00:30")
    usage = Usage([at("2026-11-23T10:00:00"), at("2026-11-23T10:00:20")], today=2)
    assert earliest_send(schedule, usage, now) == at("2026-11-23T10:01:00")
    assert allowance(schedule, usage, now) == 0
    assert allowance(schedule, Usage([at("2026-11-23T10:00:00")]), now) == 1
    assert allowance(schedule, Usage(), now) == 2


def test_messages_in_flight_count_against_the_rate_as_if_finished_now():
    schedule = Schedule(per_minute=3)
    now = at("2026-11-23T10:00:30")
    usage = Usage([at("2026-11-23T10:00:00")], today=1, in_flight=1)
    assert allowance(schedule, usage, now) == 1
    full = Usage([at("2026-11-23T10:00:00")], today=1, in_flight=2)
    assert allowance(schedule, full, now) == 0
    # The finished send leaves the minute first; the ones in flight count for a minute more.
    assert earliest_send(schedule, full, now) == at("2026-11-23T10:01:00")
    assert earliest_send(schedule, Usage(in_flight=3), now) == at("2026-11-23T10:01:30")


def test_min_gap_and_stagger_wait_while_anything_is_in_flight():
    schedule = Schedule(min_gap=2.0, stagger=5.0)
    now = at("2026-11-23T10:00:00")
    assert allowance(schedule, Usage(in_flight=1), now) == 0
    assert allowance(schedule, Usage(in_flight=1), now, manual=True) == 0
    assert earliest_send(schedule, Usage(in_flight=1), now, manual=True) == now + timedelta(
        seconds=2)
    assert allowance(Schedule(stagger=5.0), Usage(in_flight=1), now, manual=True) > 1
    assert allowance(schedule, Usage(), now) == 1


def test_the_daily_cap_counts_messages_in_flight():
    schedule = Schedule(daily_cap=10, timezone=LONDON)
    now = at("2026-11-23T10:00")
    assert allowance(schedule, Usage(today=7, in_flight=2), now) == 1
    assert earliest_send(schedule, Usage(today=7, in_flight=3), now) == at("2026-11-24T00:00")
    assert day_start(schedule, now) == at("2026-11-23T00:00")


def test_per_second_is_a_bucket_that_spaces_claims():
    schedule = Schedule(per_second=4, burst=2)
    now = at("2026-11-23T10:00:00")
    start = now.timestamp()
    assert allowance(schedule, Usage(), now) == 2  # a full bucket: the burst at once
    bucket = bucket_after(schedule, None, now, 2)
    assert bucket == start + 0.5
    assert allowance(schedule, Usage(bucket=bucket), now) == 0
    # One claim every quarter of a second from then on, never a second's worth at once.
    assert earliest_send(schedule, Usage(bucket=bucket), now) == now + timedelta(seconds=0.25)
    later = now + timedelta(seconds=0.25)
    assert allowance(schedule, Usage(bucket=bucket), later) == 1
    assert bucket_after(schedule, bucket, later, 1) == start + 0.75
    # After a long quiet spell the bucket is full again, but holds no more than the burst.
    assert allowance(schedule, Usage(bucket=bucket), now + timedelta(minutes=5)) == 2
    assert bucket_after(schedule, bucket, now + timedelta(minutes=5), 1) == start + 300.25


def test_any_window_holds_at_most_rate_times_length_plus_burst():
    schedule = Schedule(per_second=3, burst=2)
    now = at("2026-11-23T10:00:00")
    bucket, claims = None, []
    step = timedelta(milliseconds=10)
    for tick in range(1000):  # ten seconds of a worker asking every 10 ms
        moment = now + tick * step
        count = allowance(schedule, Usage(bucket=bucket), moment)
        claims += [moment] * count
        bucket = bucket_after(schedule, bucket, moment, count)
    for first in claims:
        for length in (0.5, 1.0, 3.0):
            inside = sum(1 for c in claims
                         if first <= c < first + timedelta(seconds=length))
            assert inside <= 3 * length + 2
    assert 29 <= len(claims) <= 32


def test_usage_needed_reads_only_what_the_rules_count():
    now = at("2026-11-23T10:00")
    assert usage_needed(Schedule(), now) == (0.0, 0)
    assert usage_needed(Schedule(per_minute=30), now) == (60.0, 30)
    assert usage_needed(Schedule(per_minute=30, per_hour=500), now) == (3600.0, 500)
    assert usage_needed(Schedule(stagger=7200.0), now) == (7200.0, 1)
    assert usage_needed(Schedule(per_second=5), now) == (0.0, 0)  # the bucket holds its state


def test_per_hour_limit():
    schedule = Schedule(per_hour=3)
    sends = [at("2026-11-23T09:10"), at("2026-11-23T09:20"), at("2026-11-23T09:30")]
    assert earliest_send(schedule, Usage(sends, 3), at("2026-11-23T09:40")) == at(
        "2026-11-23T10:10")


def test_a_reached_daily_cap_waits_for_the_next_days_window():
    schedule = Schedule(windows=(OFFICE,), timezone=LONDON, daily_cap=100)
    usage = Usage([at("2026-11-27T11:00")], today=100)
    assert earliest_send(schedule, usage, at("2026-11-27T11:05")) == at("2026-11-30T08:00")
    assert allowance(schedule, Usage(today=97), at("2026-11-27T11:05")) == 1  # 1/min derived


def test_stagger_spaces_bulk_sends_and_send_now_skips_it_but_not_the_cap():
    schedule = Schedule(windows=(OFFICE,), timezone=LONDON, stagger=300, daily_cap=10)
    last = at("2026-11-23T10:00")
    now = at("2026-11-23T10:01")
    assert earliest_send(schedule, Usage([last], 1), now) == at("2026-11-23T10:05")
    assert earliest_send(schedule, Usage([last], 1), now, manual=True) == now
    assert allowance(schedule, Usage([last], 1), now, manual=True) >= 1
    evening = at("2026-11-23T20:00")
    assert earliest_send(schedule, Usage(), evening, manual=True) == evening  # no window
    capped = Usage([last], today=10)
    assert earliest_send(schedule, capped, now, manual=True) == at("2026-11-24T00:00")


def test_min_gap_applies_to_manual_sends_too():
    schedule = Schedule(min_gap=2.0)
    last = at("2026-11-23T10:00:00")
    assert earliest_send(schedule, Usage([last], 1), last + timedelta(seconds=1),
                         manual=True) == last + timedelta(seconds=2)


def test_estimate_over_weekdays_with_a_cap():
    schedule = Schedule(windows=(OFFICE,), timezone=LONDON, daily_cap=480)
    friday = at("2026-11-27T08:00")
    result = estimate(schedule, 1000, friday, warn_after_days=2)
    assert result.per_minute == 1
    assert result.per_day == 480
    # 480 on Friday, 480 on Monday, the last 40 on Tuesday from 08:00 at 1 a minute.
    assert result.finish == at("2026-12-01T08:39")
    assert result.days == 5
    assert "longer than the 2 days configured" in result.warning


def test_estimate_without_limits_finishes_at_once():
    now = at("2026-11-23T10:00")
    result = estimate(Schedule(), 5000, now, warn_after_days=1)
    assert (result.finish, result.per_minute, result.per_day, result.warning) == (
        now, None, None, None)


def test_estimate_with_stagger_inside_one_window():
    schedule = Schedule(windows=(OFFICE,), timezone=LONDON, stagger=600)
    result = estimate(schedule, 10, at("2026-11-23T09:00"))
    assert result.finish == at("2026-11-23T10:30")   # nine gaps of ten minutes
    assert result.per_day == 55                      # 9 hours / 10 minutes, plus the first


def test_estimate_counts_what_was_already_sent_today():
    schedule = Schedule(daily_cap=100, timezone=LONDON)
    result = estimate(schedule, 50, at("2026-11-23T10:00"), Usage(today=80))
    assert schedule.local(result.finish).date() == at("2026-11-24T00:00").date()


def test_backoff_doubles_up_to_the_ceiling():
    assert [backoff(n, 30, 600, 0) for n in (1, 2, 3, 4, 5, 6)] == [30, 60, 120, 240, 480, 600]
    assert backoff(1, 30, 600, 1.0) == 37.5


def test_next_occurrence_of_a_weekday_report():
    weekdays = parse_days("mon-fri")
    friday_after = at("2026-11-27T07:00")
    assert next_occurrence(weekdays, time(7), LONDON, friday_after) == at("2026-11-30T07:00")
    assert next_occurrence(weekdays, time(7), LONDON, at("2026-11-23T06:59")) == at(
        "2026-11-23T07:00")
    # Across the autumn change the report still goes at 07:00 on the wall clock.
    sunday = at("2026-10-24T08:00")
    assert next_occurrence(parse_days("daily"), time(7), LONDON, sunday).utcoffset() == \
        timedelta(hours=0)
