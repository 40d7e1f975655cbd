"""Time: DST days, naive times, and a clock that steps back.

Windows on the days the clocks change keep the local times that exist; a
naive ``send_at`` means the account's wall clock whatever zone the process
runs in; sends recorded "in the future" after the clock stepped back hold a
limit for at most its own span, not for the size of the step.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import pytest
from hostile import run, write_config

from postroom import Engine
from postroom.scheduling import (
    Schedule,
    Usage,
    Window,
    allowance,
    bucket_after,
    earliest_send,
    is_open,
    localize,
    open_intervals,
    window_minutes_on,
)
from postroom.worker import Worker

LONDON = ZoneInfo("Europe/London")
SPRING = date(2026, 3, 29)   # London: 01:00 GMT becomes 02:00 BST
AUTUMN = date(2026, 10, 25)  # London: 02:00 BST becomes 01:00 GMT
EVERY_DAY = frozenset(range(7))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("wall", "zone", "expected"), [
    (datetime(2026, 3, 29, 1, 30), "Europe/London", utc(2026, 3, 29, 1, 0)),  # skipped: the jump
    (datetime(2026, 3, 29, 2, 30), "Europe/London", utc(2026, 3, 29, 1, 30)),
    (datetime(2026, 10, 25, 1, 30), "Europe/London", utc(2026, 10, 25, 0, 30)),  # first of two
    (datetime(2026, 7, 1, 9, 0), "Europe/London", utc(2026, 7, 1, 8, 0)),
    (datetime(2026, 3, 8, 2, 30), "America/New_York", utc(2026, 3, 8, 7, 0)),
    (datetime(2026, 10, 4, 2, 15), "Australia/Lord_Howe", utc(2026, 10, 3, 15, 30)),  # 30 min
])
def test_localize_reads_a_wall_clock_time_in_a_zone(wall, zone, expected):
    assert localize(wall, ZoneInfo(zone)) == expected


def window(start: str, end: str) -> Schedule:
    return Schedule((Window(EVERY_DAY, clock.fromisoformat(start), clock.fromisoformat(end)),),
                    LONDON)


@pytest.mark.parametrize(("start", "end", "day", "minutes"), [
    ("01:30", "02:30", SPRING, 30),  # 02:00-02:30 BST exists; it was 0 minutes
    ("00:30", "01:30", SPRING, 30),  # 00:30-01:00 GMT
    ("01:15", "01:45", SPRING, 0),   # wholly skipped
    ("09:00", "17:00", SPRING, 480),
    ("01:00", "02:00", AUTUMN, 120),  # from the first 01:00 to 02:00: the hour comes twice
    ("22:00", "06:00", date(2026, 3, 28), 420),  # across the jump at night
])
def test_a_window_on_a_dst_day_keeps_the_local_times_that_exist(start, end, day, minutes):
    assert window_minutes_on(window(start, end), day) == minutes


def test_the_window_is_open_in_the_part_that_exists():
    schedule = window("01:30", "02:30")
    assert open_intervals(schedule, SPRING) == [(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30))]
    assert is_open(schedule, utc(2026, 3, 29, 1, 10))  # 02:10 BST
    assert not is_open(schedule, utc(2026, 3, 29, 1, 31))


def test_a_message_due_in_that_window_goes_in_it(tmp_path):
    now = [utc(2026, 3, 29, 0, 50).timestamp()]  # 00:50 GMT, before the window
    data = {"timezone": "Europe/London", "store": {"path": "outbox.db"},
            "accounts": {"mail": {"provider": "email_file", "schedule": {"windows": [
                {"days": "sun", "start": "01:30", "end": "02:30"}]}}}}
    with Engine.from_dict(data, base_dir=tmp_path, environ={}, clock=lambda: now[0]) as engine:
        engine.send("mail", to="ann@example.org", text="in the window")
        handled, wake = Worker(engine).run_pass()
        assert handled == 0 and wake == utc(2026, 3, 29, 1, 0).timestamp()
        now[0] = utc(2026, 3, 29, 1, 10).timestamp()  # 02:10 BST
        assert Worker(engine).run_pass()[0] == 1


# --- naive times ----------------------------------------------------------------------------

@pytest.fixture
def process_zone(monkeypatch):
    """The process runs in New York time; the config says London and Paris."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_naive_send_at_is_read_in_the_accounts_zone_not_the_processes(tmp_path,
                                                                         process_zone):
    config = write_config(tmp_path, '[store]\npath = "outbox.db"\n', accounts="""
[accounts.mail]
provider = "email_file"
[accounts.paris]
provider = "email_file"
[accounts.paris.schedule]
timezone = "Europe/Paris"
""")
    with Engine.from_file(config) as engine:
        london, = engine.send("mail", to="a@example.org", text="x",
                              send_at=datetime(2026, 7, 1, 9, 0))
        paris, = engine.send("paris", to="a@example.org", text="x",
                             send_at=datetime(2026, 7, 1, 9, 0))
        rows = dict(engine.store._read("SELECT id, not_before FROM outbox"))
    assert datetime.fromtimestamp(rows[london], UTC) == utc(2026, 7, 1, 8, 0)  # not 13:00
    assert datetime.fromtimestamp(rows[paris], UTC) == utc(2026, 7, 1, 7, 0)
    # The command reads --at the same way.
    code, said = run(config, "send", "-a", "paris", "--to", "b@example.org", "--text", "x",
                     "--at", "2026-07-01T09:00", "--json")
    assert code == 0, said
    with Engine.from_file(config) as engine:
        stamps = sorted(engine.store._read("SELECT not_before FROM outbox"))
    assert [datetime.fromtimestamp(s, UTC) for (s,) in stamps].count(utc(2026, 7, 1, 7, 0)) == 2


# --- the clock steps back -------------------------------------------------------------------

SENT = utc(2026, 5, 1, 12, 0)


@pytest.mark.parametrize("schedule", [Schedule(per_minute=10), Schedule(per_hour=10),
                                      Schedule(min_gap=30), Schedule(stagger=120)])
def test_sends_recorded_after_now_do_not_hold_a_limit(schedule):
    usage = Usage([SENT + timedelta(seconds=i) for i in range(10)], 10)
    now = SENT + timedelta(seconds=30) - timedelta(hours=2)  # the clock stepped back 2 h
    assert earliest_send(schedule, usage, now) == now  # it waited two hours before
    assert allowance(schedule, usage, now) >= 1
    # Sends that really are recent still count.
    recent = Usage([now - timedelta(seconds=5)] * 10, 10)
    assert earliest_send(schedule, recent, now) > now


def test_a_per_second_bucket_from_before_the_step_restarts_with_one_claim():
    schedule = Schedule(per_second=0.1, burst=2)
    now = SENT - timedelta(hours=2)  # the clock stepped back 2 h after ten claims
    stepped = Usage(bucket=(SENT + timedelta(seconds=100)).timestamp())
    assert earliest_send(schedule, stepped, now) == now
    assert allowance(schedule, stepped, now) == 1
    after = Usage(bucket=bucket_after(schedule, stepped.bucket, now, 1))
    assert earliest_send(schedule, after, now) == now + timedelta(seconds=10)
    # A bucket really ahead still spaces the claims.
    ahead = Usage(bucket=(now + timedelta(seconds=15)).timestamp())
    assert earliest_send(schedule, ahead, now) == now + timedelta(seconds=5)


def test_as_of_drops_only_sends_from_the_future():
    history = Usage([SENT, SENT + timedelta(minutes=5)], 2)
    assert history.as_of(SENT + timedelta(minutes=10)) is history
    seen = history.as_of(SENT + timedelta(minutes=1))
    assert seen.recent == (SENT,) and seen.today == 2


def test_a_worker_after_the_clock_stepped_back_sends_without_waiting_out_the_step(tmp_path):
    now = [SENT.timestamp()]
    data = {"store": {"path": "outbox.db"},
            "accounts": {"mail": {"provider": "email_file", "schedule": {"per_minute": 2}}}}
    with Engine.from_dict(data, base_dir=tmp_path, environ={}, clock=lambda: now[0]) as engine:
        for n in range(2):
            engine.send("mail", to=f"p{n}@example.org", text="before the step")
        assert Worker(engine).run_pass()[0] == 2
        now[0] -= 3600  # the clock steps back an hour
        for n in range(3):
            engine.send("mail", to=f"q{n}@example.org", text="after the step")
        assert Worker(engine).run_pass()[0] == 2  # it sent none for an hour before
        handled, wake = Worker(engine).run_pass()  # and the limit holds in the new minute
        assert handled == 0 and 0 < wake - now[0] <= 60
