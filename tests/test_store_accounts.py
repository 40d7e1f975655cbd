"""What the store keeps of an account for every worker: switched off and on, the sent-today
counter and its reset, the sending mode at claim time, flush, low credit and mailbox reads.

Two connections to one outbox stand for two workers (or a worker and the CLI): what one
writes, the other's claims must obey, in SQLite and in PostgreSQL. The store's clock is a
fake one, moved by the tests.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import Clock

from postroom import EmailMessage
from postroom.scheduling import Schedule, Session, Window, parse_days
from postroom.store import Disposition, NewMessage, Store

LONDON = ZoneInfo("Europe/London")
LEASE = 60.0


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-03-04T10:00"))


@pytest.fixture
def stores(open_stores, clock):
    """Two connections to one new outbox, on the same clock, once for each store."""
    return open_stores(2, clock=clock)


def queue(store: Store, count: int, when: float, account: str = "mail",
          **options) -> list[str]:
    return store.enqueue([NewMessage(account, EmailMessage(to=f"p{i}@example.org",
                                                           subject=f"n{i}", text="x"),
                                     when, **options) for i in range(count)])


def claim_ids(store: Store, schedule: Schedule, account: str = "mail",
              limit: int = 50) -> list[str]:
    taken = store.claim(account, schedule, limit=limit, lease=LEASE, worker="w")
    return [c.message.id for c in taken.messages]


def send_all(store: Store, clock: Clock, schedule: Schedule, account: str = "mail") -> int:
    """Claim what may go now and record it sent; how many went."""
    taken = store.claim(account, schedule, limit=50, lease=LEASE, worker="w")
    store.record(taken.token, [Disposition(c.message.id, "sent", clock.now)
                               for c in taken.messages])
    return len(taken.messages)


def test_an_account_switched_off_on_one_connection_is_claimed_on_none(stores, clock):
    cli, worker = stores
    ids = queue(cli, 3, clock.now)
    assert cli.switch("mail", False, "server move", "ann") is True
    assert cli.switch("mail", False, "another reason", "bo") is False  # off already
    assert claim_ids(worker, Schedule()) == []
    assert worker.claim("mail", Schedule(), limit=5, lease=LEASE, worker="w").wake is None
    state = worker.account_states()["mail"]
    assert (state.enabled, state.disabled_reason, state.disabled_by, state.disabled_at) == (
        False, "server move", "ann", clock.now)
    assert [worker.find(i).state for i in ids] == ["queued"] * 3  # nothing lost
    assert claim_ids(worker, Schedule(), account="other") == []
    clock.now += 60
    assert cli.switch("mail", True) is True
    assert worker.account_states()["mail"].enabled
    assert sorted(claim_ids(worker, Schedule())) == sorted(ids)


def test_the_daily_cap_counts_from_a_reset_until_the_next_midnight(stores, clock):
    cli, worker = stores
    capped = Schedule(timezone=LONDON, daily_cap=3)
    queue(cli, 10, clock.now)
    assert send_all(worker, clock, capped) == 3
    clock.now = at("2026-03-04T11:00")
    assert claim_ids(worker, capped) == []
    assert cli.reset_counter("mail") == clock.now
    assert worker.account_states()["mail"].counted_from == clock.now
    assert cli.sent_since("mail", clock.now) == 0
    assert send_all(worker, clock, capped) == 3  # the cap counts from the reset
    clock.now = at("2026-03-04T23:59")
    assert claim_ids(worker, capped) == []
    clock.now = at("2026-03-05T00:00")  # a new day: counted from midnight, not the reset
    assert send_all(worker, clock, capped) == 3
    assert cli.sent_since("mail", at("2026-03-04T00:00")) == 9


def test_the_counter_day_on_the_clock_change_days(stores, clock):
    cli, worker = stores
    capped = Schedule(timezone=LONDON, daily_cap=2)
    queue(cli, 6, at("2026-03-28T00:00"))
    clock.now = at("2026-03-28T23:30")  # GMT
    assert send_all(worker, clock, capped) == 2
    clock.now = at("2026-03-29T00:30")  # the next day, though an hour after an hour ago
    assert send_all(worker, clock, capped) == 2
    clock.now = at("2026-03-29T23:59")  # BST: the day had 23 hours
    assert claim_ids(worker, capped) == []
    clock.now = at("2026-03-30T00:00")
    assert send_all(worker, clock, capped) == 2


def test_a_scheduled_account_takes_what_waited_at_its_last_check(stores, clock):
    cli, worker = stores
    checks = Schedule(timezone=LONDON, mode="scheduled", check_every=timedelta(minutes=30))
    early = queue(cli, 2, at("2026-03-04T09:50"))
    late = queue(cli, 1, at("2026-03-04T10:05"))
    clock.now = at("2026-03-04T10:10")
    taken = worker.claim("mail", checks, limit=10, lease=LEASE, worker="w")
    assert sorted(c.message.id for c in taken.messages) == sorted(early)
    worker.record(taken.token, [Disposition(c.message.id, "sent", clock.now)
                                for c in taken.messages])
    assert worker.claim("mail", checks, limit=10, lease=LEASE, worker="w").wake == \
        at("2026-03-04T10:30")
    clock.now = at("2026-03-04T10:30")
    assert claim_ids(worker, checks) == late


def test_a_manual_account_holds_everything_but_send_now_messages(stores, clock):
    cli, worker = stores
    manual = Schedule(timezone=LONDON, mode="manual")
    queue(cli, 2, clock.now)
    now_ids = queue(cli, 1, clock.now, manual=True)
    assert claim_ids(worker, manual) == now_ids
    assert claim_ids(worker, manual) == []


def test_flush_sends_what_waits_past_window_and_mode_but_within_the_cap(stores, clock):
    cli, worker = stores
    closed = Window(parse_days("sat"), time(9), time(10))  # 4 March 2026 is a Wednesday
    held = Schedule((closed,), LONDON, daily_cap=2, stagger=600, mode="manual")
    waiting = queue(cli, 3, clock.now - 60)
    later = queue(cli, 1, clock.now + 3600)  # an app's "send at": keeps its time
    assert claim_ids(worker, held) == []
    assert cli.flush("mail") == 3
    taken = worker.claim("mail", held, limit=10, lease=LEASE, worker="w")
    assert len(taken.messages) == 2  # the daily cap holds; window, stagger and mode do not
    assert {c.message.id for c in taken.messages} <= set(waiting)
    assert all(c.manual for c in taken.messages)
    assert cli.find(later[0]).state == "queued"
    assert claim_ids(worker, held) == []
    assert cli.flush("other") == 0


def test_flush_takes_messages_waiting_to_be_tried_again(stores, clock):
    cli, worker = stores
    (mid,) = queue(cli, 1, clock.now)
    taken = worker.claim("mail", Schedule(), limit=1, lease=LEASE, worker="w")
    worker.record(taken.token, [Disposition(mid, "queued", clock.now,
                                            not_before=clock.now + 3600, error="451 later")])
    assert claim_ids(worker, Schedule()) == []
    assert cli.flush("mail") == 1
    assert claim_ids(worker, Schedule()) == [mid]


def test_a_crossing_below_the_credit_threshold_is_told_once(stores, clock):
    one, two = stores
    assert one.note_credit("texts", low=False) is False
    assert one.note_credit("texts", low=True) is True
    assert two.note_credit("texts", low=True) is False  # the same crossing, seen elsewhere
    assert two.account_states()["texts"].low_credit_at == clock.now
    assert one.note_credit("texts", low=False) is False  # topped up
    assert two.account_states()["texts"].low_credit_at is None
    assert two.note_credit("texts", low=True) is True  # a new crossing


def test_one_connection_takes_each_mailbox_read(stores, clock):
    one, two = stores
    due = clock.now
    assert one.take_mailbox_read("mail", due) is True
    assert two.take_mailbox_read("mail", due) is False
    clock.now += 300
    assert two.take_mailbox_read("mail", due + 300) is True
    assert one.account_states()["mail"].mailbox_read_at == clock.now


def test_sessions_in_a_claim(stores, clock):
    cli, worker = stores
    session = Schedule(timezone=LONDON, sessions=(Session(date(2026, 3, 5), time(9),
                                                          time(10)),))
    queue(cli, 2, clock.now)
    taken = worker.claim("mail", session, limit=10, lease=LEASE, worker="w")
    assert (taken.messages, taken.wake) == ((), at("2026-03-05T09:00"))
    clock.now = at("2026-03-05T09:30")
    assert len(claim_ids(worker, session)) == 2
