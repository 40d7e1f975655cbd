"""The delivery engine: durable outbox, worker, retries, pauses, schedules, the log.

Scheduling cases run on a fake clock (``Clock``) and call ``run_pass`` directly,
each on both stores (SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from postroom import EmailMessage, Engine, MessageError
from postroom.scheduling import Schedule
from postroom.worker import Worker

LONDON = ZoneInfo("Europe/London")


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 10, 0, tzinfo=LONDON))  # a Monday


@pytest.fixture
def make_engine(tmp_path, registry, echo_settings, clock, store_settings):
    """Engines on one outbox of each store, closed after the test."""
    made = []

    def make(schedule: dict | None = None, delivery: dict | None = None, **top) -> Engine:
        desk = {**echo_settings, **({"schedule": schedule} if schedule else {})}
        data = {"timezone": "Europe/London", "region": "GB",
                "delivery": {"backoff": 30, "max_attempts": 3, **(delivery or {})},
                "accounts": {"desk": desk,
                             "mail": {"provider": "email_file"},
                             "texts": {"provider": "sms_file"}}, **top,
                "store": {**store_settings, **top.get("store", {})}}
        made.append(Engine.from_dict(data, base_dir=tmp_path, registry=registry,
                                     environ={"ECHO_SECRET": "x"}, clock=clock, strict=True))
        return made[-1]
    yield make
    for engine in made:
        engine.close()


def drain(engine: Engine) -> int:
    """Run passes until one handles nothing (no waiting: the clock stands still)."""
    worker = Worker(engine)
    total = 0
    while (handled := worker.run_pass()[0]):
        total += handled
    return total


def states(engine: Engine) -> dict[str, tuple[int, int, int, int, int]]:
    return {r.account: (r.waiting, r.scheduled, r.in_flight, r.dead, r.sent)
            for r in engine.queue()}


def test_send_enqueues_durably_and_a_new_engine_sees_it(make_engine, tmp_path):
    engine = make_engine()
    ids = engine.send("mail", to="ann@example.org", subject="Hi", text="Hello")
    engine.close()
    again = make_engine()
    assert states(again) == {"mail": (1, 0, 0, 0, 0)}
    assert again.run_worker(once=True).sent == 1
    (eml,) = (tmp_path / "outbox" / "email").glob("*.eml")
    assert ids[0] in eml.name


def test_a_bad_message_is_refused_and_the_queue_is_left_intact(make_engine):
    engine = make_engine()
    engine.send("mail", to="ann@example.org", text="first")
    with pytest.raises(MessageError, match="subject"):
        engine.send("mail", EmailMessage(to="bo@example.org", text="ok"),
                    to="cy@example.org", subject="x\r\nBcc: all@example.org", text="bad")
    with pytest.raises(MessageError, match="sends email, not sms"):
        engine.send("mail", engine.message("texts", to="07700 900123", text="x"))
    assert states(engine) == {"mail": (1, 0, 0, 0, 0)}


def test_an_idempotency_key_makes_a_repeat_a_no_op(make_engine):
    engine = make_engine()
    first = engine.send("mail", to="ann@example.org", text="x", idempotency_key="appt-42")
    again = engine.send("mail", to="ann@example.org", text="x", idempotency_key="appt-42")
    assert first == again
    batch = [EmailMessage(to=f"p{i}@example.org", text="x") for i in range(3)]
    ids = engine.send("mail", *batch, idempotency_key="bulk-7")
    assert engine.send("mail", *batch, idempotency_key="bulk-7") == ids
    assert states(engine)["mail"][0] == 4


def test_the_worker_sends_in_batches_and_logs_every_attempt(make_engine, echo):
    engine = make_engine(delivery={"batch_size": 4})
    for i in range(10):
        engine.send("desk", to=f"p{i}@example.org", subject=f"n{i}", text="x")
    report = engine.run_worker(once=True)
    assert (report.sent, report.batches) == (10, 3)
    assert sorted(m.subject for m in echo.SENT) == sorted(f"n{i}" for i in range(10))
    entries = engine.log(account="desk")
    assert len(entries) == 10
    assert {e.outcome for e in entries} == {"accepted"}
    assert entries[0].provider.startswith("echo") and entries[0].cost == "0.01"


def test_once_without_waiting_drains_every_batch_that_may_go_now(make_engine, echo):
    engine = make_engine(delivery={"batch_size": 4})
    engine.send("desk", *[EmailMessage(to=f"p{i}@example.org", text="x") for i in range(10)])
    report = engine.run_worker(once=True, wait=0)
    assert (report.sent, report.batches, report.left) == (10, 3, 0)


def test_a_transient_failure_is_retried_with_backoff_then_delivered(make_engine, clock, echo):
    engine = make_engine()
    (mid,) = engine.send("desk", to="flaky2@example.org", subject="s", text="x")
    assert drain(engine) == 1
    assert states(engine)["desk"] == (0, 1, 0, 0, 0)
    clock.advance(29)
    assert drain(engine) == 0  # backoff: first retry after 30 s (+ up to 25 % jitter)
    clock.advance(10)
    assert drain(engine) == 1
    clock.advance(60 * 1.25 + 1)  # second retry after 60 s
    assert drain(engine) == 1
    assert states(engine)["desk"] == (0, 0, 0, 0, 1)
    outcomes = [(e.attempt, e.outcome) for e in reversed(engine.log(message_id=mid))]
    assert outcomes == [(1, "transient"), (2, "transient"), (3, "accepted")]


def test_a_permanent_failure_is_not_retried(make_engine, clock, echo):
    engine = make_engine()
    (mid,) = engine.send("desk", to="permanent@example.org", text="x")
    assert drain(engine) == 1
    clock.advance(86400)
    assert drain(engine) == 0
    assert echo.TRIES[mid] == 1
    assert states(engine)["desk"] == (0, 0, 0, 1, 0)
    assert engine.store.dead() == [(mid, "desk", "no such user")]


def test_transient_failures_stop_at_the_attempt_limit(make_engine, clock, echo):
    engine = make_engine(delivery={"max_attempts": 3, "backoff": 1, "backoff_max": 1})
    (mid,) = engine.send("desk", to="transient@example.org", text="x")
    for _ in range(6):
        drain(engine)
        clock.advance(5)
    assert echo.TRIES[mid] == 3
    ((_, _, error),) = engine.store.dead()
    assert error == "gave up after 3 tries: try later"


def test_throttling_pauses_the_account_without_using_up_tries(make_engine, clock, echo):
    engine = make_engine(delivery={"max_attempts": 1})
    engine.send("desk", to="throttled@example.org", text="x")
    engine.send("desk", to="ann@example.org", text="y")
    drain(engine)
    (pause,) = engine.store.pauses(clock()).values()
    assert pause.reason == "throttled: slow down"
    assert pause.until == pytest.approx(clock() + 120)
    assert echo.SENT == []  # the rest of the batch waits with the account, untried
    engine.send("desk", to="bo@example.org", text="z")
    assert drain(engine) == 0  # paused
    clock.advance(121)
    drain(engine)  # the throttled one came back, with its try not counted
    assert states(engine)["desk"][0:4] == (3, 0, 0, 0)  # throttled again: all wait, none dead
    assert [e.attempt for e in engine.log(outcome="throttled")] == [1, 1]


def test_a_plugin_that_raises_loses_nothing(make_engine, clock, echo):
    engine = make_engine()
    engine.send("desk", to="crash@example.org", text="x")
    assert drain(engine) == 1
    (entry,) = engine.log()
    assert entry.outcome == "transient"
    assert "RuntimeError: the echo plugin fell over" in entry.text
    assert states(engine)["desk"] == (0, 1, 0, 0, 0)


def test_an_out_of_credit_account_keeps_its_messages_queued(make_engine, clock):
    engine = make_engine(delivery={"stopped_pause": 600})
    engine.send("desk", to="stopped@example.org", text="x")
    drain(engine)
    (pause,) = engine.store.pauses(clock()).values()
    assert pause.reason == "account_stopped: out of credit"
    assert states(engine)["desk"] == (1, 0, 0, 0, 0)  # due as before: the pause holds it


def test_outside_the_window_messages_wait_and_send_now_goes_anyway(make_engine, clock, echo):
    schedule = {"windows": [{"days": "mon-fri", "start": "08:00", "end": "17:00"}]}
    engine = make_engine(schedule=schedule)
    clock.now = datetime(2026, 11, 27, 18, 0, tzinfo=LONDON).timestamp()  # Friday evening
    engine.send("desk", to="ann@example.org", subject="bulk", text="x")
    engine.send("desk", to="bo@example.org", subject="urgent", text="x", now=True)
    assert drain(engine) == 1
    assert [m.subject for m in echo.SENT] == ["urgent"]
    _, wake = Worker(engine).run_pass()
    assert wake == datetime(2026, 11, 30, 8, 0, tzinfo=LONDON).timestamp()
    clock.now = wake
    assert drain(engine) == 1


def test_rate_limits_and_stagger_spread_the_sends(make_engine, clock, echo):
    engine = make_engine(schedule={"per_minute": 2})
    for i in range(5):
        engine.send("desk", to=f"p{i}@example.org", text="x")
    assert drain(engine) == 2
    clock.advance(60)
    assert drain(engine) == 2
    clock.advance(60)
    assert drain(engine) == 1
    staggered = make_engine(schedule={"stagger": 300})
    for i in range(3):
        staggered.send("mail", to=f"q{i}@example.org", text="x")
    # The mail account has no stagger; only desk was given one.
    assert drain(staggered) == 3


def test_stagger_sends_one_at_a_time_and_manual_sends_skip_it(make_engine, clock, echo):
    engine = make_engine(schedule={"stagger": 300})
    for i in range(3):
        engine.send("desk", to=f"p{i}@example.org", subject=f"b{i}", text="x")
    assert drain(engine) == 1
    engine.send("desk", to="boss@example.org", subject="now", text="x", now=True)
    assert drain(engine) == 1
    assert [m.subject for m in echo.SENT] == ["b0", "now"]
    clock.advance(300)
    assert drain(engine) == 1


def test_the_daily_cap_holds_even_for_manual_sends(make_engine, clock, echo):
    engine = make_engine(schedule={"daily_cap": 2})
    for i in range(3):
        engine.send("desk", to=f"p{i}@example.org", text="x", now=True)
    assert drain(engine) == 2
    clock.now = datetime(2026, 11, 24, 0, 0, 1, tzinfo=LONDON).timestamp()
    assert drain(engine) == 1


def test_a_lease_that_runs_out_gives_the_messages_to_another_worker(make_engine, clock):
    engine = make_engine(delivery={"lease": 60})
    engine.send("mail", to="ann@example.org", text="x")
    held = engine.store.claim("mail", Schedule(), limit=10, lease=60, worker="dead-worker")
    assert len(held.messages) == 1
    assert drain(engine) == 0
    clock.advance(61)
    assert drain(engine) == 1
    assert states(engine)["mail"] == (0, 0, 0, 0, 1)


def test_recurring_sends_fire_once_per_occurrence(make_engine, clock, tmp_path):
    engine = make_engine(recurring={"morning": {
        "account": "mail", "days": "mon-fri", "at": "07:00", "to": ["boss@example.org"],
        "subject": "Daily report", "text": "All well."}})
    worker = Worker(engine)
    worker.run_pass()  # first sight: nothing is sent for the past
    assert states(engine) == {}
    clock.now = datetime(2026, 11, 24, 7, 0, tzinfo=LONDON).timestamp()
    worker.run_pass()
    worker.run_pass()
    clock.now = datetime(2026, 11, 24, 12, 0, tzinfo=LONDON).timestamp()
    worker.run_pass()
    assert states(engine)["mail"][4] == 1
    clock.now = datetime(2026, 11, 28, 9, 0, tzinfo=LONDON).timestamp()  # Saturday
    worker.run_pass()
    worker.run_pass()
    # Wednesday to Friday were missed: one catch-up send, not three stale reports.
    sent = engine.log(outcome="accepted")
    assert [e.summary for e in sent] == ["Daily report", "Daily report"]
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 2


def test_log_filters_and_clear(make_engine, clock):
    engine = make_engine()
    engine.send("desk", to="ann@example.org", text="x")
    engine.send("desk", to="permanent@example.org", text="y")
    drain(engine)
    clock.advance(3600)
    engine.send("mail", to="cy@example.org", text="z")
    drain(engine)
    assert len(engine.log()) == 3
    assert [e.recipient for e in engine.log(outcome="permanent")] == ["permanent@example.org"]
    assert [e.account for e in engine.log(since=clock() - 60)] == ["mail"]
    assert len(engine.log(recipient="ann@")) == 1
    assert engine.clear_log(before=datetime.fromtimestamp(clock() - 60, UTC)) == 2
    assert engine.clear_log() == 1
    assert engine.log() == []


def test_logging_can_be_switched_off(make_engine):
    engine = make_engine(store={"log": False})
    engine.send("mail", to="ann@example.org", text="x")
    assert engine.run_worker(once=True).sent == 1
    assert engine.log() == []


def test_estimate_uses_the_accounts_schedule(make_engine, clock):
    engine = make_engine(schedule={
        "windows": [{"days": "mon-fri", "start": "08:00", "end": "16:00"}], "daily_cap": 480},
        delivery={"warn_after_days": 1})
    found = engine.estimate("desk", 1000)
    assert found.per_minute == 1
    # Monday 10:00-16:00 takes 360, Tuesday 480, the last 160 go Wednesday from 08:00.
    assert found.finish.astimezone(LONDON) == datetime(2026, 11, 25, 10, 39, tzinfo=LONDON)
    assert "longer than the 1 days configured" in found.warning


def test_schedule_settings_are_checked_with_paths(make_engine):
    with pytest.raises(Exception, match=r"accounts\.desk\.schedule\.windows\[0\]\.start: "
                                        r'expected a time of day such as "08:00", got "8am"'):
        make_engine(schedule={"windows": [{"days": "mon-fri", "start": "8am", "end": "17:00"}]})
    with pytest.raises(Exception, match=r"accounts\.desk\.schedule\.timezone: expected a time "
                                        r"zone"):
        make_engine(schedule={"timezone": "Europe/Londn"})
    with pytest.raises(Exception, match=r"recurring\.x\.account: no account named 'nope'"):
        make_engine(recurring={"x": {"account": "nope", "days": "mon", "at": "07:00",
                                     "to": []}})
