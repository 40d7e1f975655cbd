"""Every method of the ``Store`` protocol, on each store (SQLite and PostgreSQL):
the same calls must give the same answers."""

from __future__ import annotations

import threading
import time

import pytest

from postroom import ConfigError, EmailMessage, SmsMessage
from postroom.store import Disposition, LogEntry, NewMessage, SQLiteStore, Store

LEASE = 60.0


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(open_stores, clock) -> Store:
    (opened,) = open_stores(clock=clock)
    return opened


def mail(to: str = "ann@example.org", subject: str = "Reminder") -> EmailMessage:
    return EmailMessage(to=to, subject=subject, text="See you at 9.")


def queue(store: Store, *recipients: str, account: str = "mail", at: float = 0.0,
          **options) -> list[str]:
    return store.enqueue([NewMessage(account, mail(rcpt), at, **options) for rcpt in recipients])


def entry(message_id: str, at: float, outcome: str = "accepted", **fields) -> LogEntry:
    values = {"account": "mail", "provider": "email_file", "recipient": "ann@example.org",
              "summary": "Reminder", **fields}
    return LogEntry(message_id, at, outcome=outcome, **values)


def test_enqueue_keeps_each_message_whole_and_returns_its_id(store):
    sms = SmsMessage(to="07700 900123", text="Ünïcode ✓ and a long text", region="GB")
    email = EmailMessage(to="Ann Lee <ann@example.org>", cc=["bo@example.org"],
                         subject="Ré: the plan", text="x", html="<p>x</p>",
                         headers={"X-Ref": "42"})
    ids = store.enqueue([NewMessage("texts", sms, 5.0), NewMessage("mail", email, 5.0)])
    assert ids == [sms.id, email.id]
    stored = store.find(email.id)
    assert (stored.account, stored.recipient, stored.state, stored.attempts) == (
        "mail", "ann@example.org, bo@example.org", "queued", 0)
    assert store.find("no-such-id") is None
    (claimed,) = store.claim("mail", 10.0, 5, LEASE, "w1")
    assert claimed.message == email
    assert store.claim("texts", 10.0, 5, LEASE, "w1")[0].message.text == sms.text


def test_a_repeated_idempotency_key_queues_nothing_and_returns_the_first_id(store):
    (first,) = queue(store, "ann@example.org", idempotency_key="k1")
    again = store.enqueue([NewMessage("mail", mail("bo@example.org"), 0.0, idempotency_key="k1"),
                           NewMessage("mail", mail("cy@example.org"), 0.0, idempotency_key="k2")])
    assert again[0] == first and again[1] != first
    assert [m.to[0].email for m in store.pending("mail")] == ["ann@example.org",
                                                               "cy@example.org"]


def test_due_accounts_and_next_due_see_queued_and_expired_leases(store):
    assert store.due_accounts(0.0) == [] and store.next_due() is None
    queue(store, "a@example.org", account="mail", at=200.0)
    queue(store, "b@example.org", account="desk", at=50.0)
    assert store.due_accounts(60.0) == ["desk"]
    assert store.next_due() == 50.0
    store.claim("desk", 60.0, 1, LEASE, "w1")
    assert store.next_due() == 60.0 + LEASE  # the lease, should its worker die
    assert store.due_accounts(100.0) == []
    assert store.due_accounts(200.0) == ["desk", "mail"]


def test_claim_takes_manual_messages_first_then_oldest_and_never_twice(open_stores, clock):
    one, two = open_stores(2, clock=clock)
    later = queue(one, "a@example.org", "b@example.org", at=10.0)
    early = queue(one, "c@example.org", at=5.0)
    (manual,) = queue(one, "d@example.org", at=20.0, manual=True)
    first = {c.message.id: c for c in one.claim("mail", 30.0, 2, LEASE, "w1")}
    assert set(first) == {manual, early[0]}  # handed back in the order they were queued
    assert first[manual].manual and not first[early[0]].manual
    assert first[manual].attempts == 0
    second = two.claim("mail", 30.0, 10, LEASE, "w2")
    assert [c.message.id for c in second] == later
    assert one.claim("mail", 30.0, 10, LEASE, "w3") == []
    assert one.claim("mail", 30.0, 0, LEASE, "w3") == []
    # Past the lease, another worker may take them again (the first may have died).
    assert {c.message.id for c in two.claim("mail", 30.0 + LEASE, 10, LEASE, "w4")} == {
        manual, early[0], *later}


def test_claim_manual_only_leaves_scheduled_messages(store):
    queue(store, "a@example.org")
    (manual,) = queue(store, "b@example.org", manual=True)
    assert [c.message.id for c in store.claim("mail", 1.0, 10, LEASE, "w1",
                                              manual_only=True)] == [manual]
    assert store.claim("mail", 1.0, 10, LEASE, "w1", manual_only=True) == []


def test_finish_records_every_outcome_and_its_log_in_one_go(store, clock):
    sent, retry, dead, moved = queue(store, "a@example.org", "b@example.org", "c@example.org",
                                     "d@example.org", route="email")
    store.claim("mail", 1.0, 10, LEASE, "w1")
    copy = NewMessage("mail", mail("e@example.org"), 500.0, idempotency_key=f"{sent}:deferred")
    clock.now = 2.0
    store.finish("w1", [
        Disposition(sent, "sent", provider_id="p-1", log=entry(sent, 2.0, provider_id="p-1")),
        Disposition(retry, "queued", not_before=300.0, error="451 later",
                    log=entry(retry, 2.0, "transient", code="451")),
        Disposition(dead, "dead", error="550 no such user", log=entry(dead, 2.0, "permanent")),
        Disposition(moved, "queued", not_before=2.0, counted=False, account="backup"),
    ], follow_ups=[copy])
    assert store.find(sent).state == "sent" and store.find(sent).provider_id == "p-1"
    assert (store.find(retry).state, store.find(retry).attempts) == ("queued", 1)
    assert store.dead() == [(dead, "mail", "550 no such user")]
    assert store.dead("backup") == []
    assert (store.find(moved).account, store.find(moved).attempts) == ("backup", 0)
    assert store.find(copy.message.id).state == "queued"
    assert store.sent_times("mail", 0.0) == [2.0] and store.sent_count("mail", 2.0) == 1
    assert [(e.message_id, e.outcome) for e in store.log()] == [
        (dead, "permanent"), (retry, "transient"), (sent, "accepted")]
    assert store.log(message_id=retry)[0].code == "451"


def test_a_worker_that_lost_its_lease_changes_nothing_but_a_send(open_stores, clock):
    slow, fast = open_stores(2, clock=clock)
    gone, retried = queue(slow, "a@example.org", "b@example.org")
    slow.claim("mail", 1.0, 10, LEASE, "slow")
    fast.claim("mail", 1.0 + LEASE, 10, LEASE, "fast")
    slow.finish("slow", [Disposition(gone, "sent"),
                         Disposition(retried, "queued", not_before=9.0, error="451")])
    assert slow.find(gone).state == "sent"  # it went, whoever holds it now
    assert (fast.find(retried).state, fast.find(retried).attempts) == ("inflight", 0)
    fast.finish("fast", [Disposition(gone, "sent"), Disposition(retried, "sent")])
    assert fast.find(gone).attempts == 1  # recorded once
    assert fast.sent_count("mail", 0.0) == 2


def test_release_gives_claimed_messages_back_unsent(store):
    ids = queue(store, "a@example.org", "b@example.org")
    store.claim("mail", 1.0, 10, LEASE, "w1")
    store.release("other-worker", ids)
    assert store.find(ids[0]).state == "inflight"
    store.release("w1", ids)
    assert {store.find(mid).state for mid in ids} == {"queued"}
    assert len(store.claim("mail", 1.0, 10, LEASE, "w2")) == 2


def test_reroute_moves_only_the_routes_queued_messages(store):
    routed = queue(store, "a@example.org", "b@example.org", route="email")
    (plain,) = queue(store, "c@example.org")
    store.claim("mail", 1.0, 1, LEASE, "w1")
    assert store.reroute("mail", "email", "backup") == 1
    assert store.find(routed[0]).account == "mail"  # in flight: its worker decides
    assert store.find(routed[1]).account == "backup"
    assert store.find(plain).account == "mail"


def test_pending_is_the_queued_messages_oldest_first_less_skipped_keys(store):
    queue(store, "a@example.org", idempotency_key="skip-me")
    kept = queue(store, "b@example.org", "c@example.org", at=500.0)
    store.claim("mail", 1.0, 1, LEASE, "w1")
    queue(store, "d@example.org", account="other")
    assert [m.id for m in store.pending("mail", {"skip-me"})] == kept
    assert len(store.pending("mail")) == 2  # the one in flight is not counted


def test_sent_times_and_count_read_the_newest_sends(store, clock):
    ids = queue(store, *[f"p{i}@example.org" for i in range(5)])
    store.claim("mail", 1.0, 10, LEASE, "w1")
    for i, mid in enumerate(ids):
        clock.now = 100.0 + i
        store.finish("w1", [Disposition(mid, "sent")])
    assert store.sent_times("mail", 0.0) == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert store.sent_times("mail", 0.0, newest=2) == [103.0, 104.0]
    assert store.sent_times("mail", 102.0) == [103.0, 104.0]
    assert store.sent_count("mail", 102.0) == 3 and store.sent_count("other", 0.0) == 0


def test_pauses_are_set_replaced_and_run_out(store):
    store.pause("mail", 100.0, "throttled")
    store.pause("mail", 200.0, "throttled: wait longer")
    store.pause("texts", 50.0, "out of credit")
    found = store.pauses(60.0)
    assert list(found) == ["mail"]
    assert (found["mail"].until, found["mail"].reason) == (200.0, "throttled: wait longer")
    assert store.pauses(200.0) == {}


def test_queue_counts_each_state_per_account(store, clock):
    due, dead, sent, held = queue(store, "a@example.org", "b@example.org", "c@example.org",
                                  "d@example.org")
    later = queue(store, "e@example.org", at=900.0)
    queue(store, "f@example.org", account="texts", at=800.0)
    store.claim("mail", 1.0, 4, LEASE, "w1")
    clock.now = 5.0
    store.finish("w1", [Disposition(dead, "dead", error="550"), Disposition(sent, "sent"),
                        Disposition(due, "queued", not_before=1.0, error="451")])
    store.cancel(10.0, later)
    rows = {row.account: row for row in store.queue(10.0, 0.0)}
    row = rows["mail"]
    assert (row.waiting, row.scheduled, row.in_flight, row.dead, row.cancelled, row.sent) == (
        1, 0, 1, 1, 1, 1)
    assert row.next_due == 1.0
    assert (rows["texts"].scheduled, rows["texts"].next_due) == (1, 800.0)
    assert store.queue(10.0, 6.0)[0].sent == 0  # sent before "since"
    assert store.find(held).state == "inflight"


def test_log_filters_limit_and_clear(store):
    store.append_log([
        entry("m1", 10.0, recipient="Ann@Example.org"),
        entry("m2", 20.0, "permanent", account="texts", recipient="+447700900123",
              info={"report": "delivery", "note": "ünïcode"}),
        entry("m3", 30.0, "delivered", recipient="cy@example.org", cost="0.04", currency="EUR"),
    ])
    assert [e.message_id for e in store.log()] == ["m3", "m2", "m1"]
    assert [e.message_id for e in store.log(account="texts")] == ["m2"]
    assert [e.message_id for e in store.log(outcome="delivered")] == ["m3"]
    assert [e.message_id for e in store.log(since=20.0)] == ["m3", "m2"]
    assert [e.message_id for e in store.log(recipient="ann@example")] == ["m1"]  # any case
    assert [e.message_id for e in store.log(message_id="m1")] == ["m1"]
    assert [e.message_id for e in store.log(limit=1)] == ["m3"]
    (m2,) = store.log(message_id="m2")
    assert m2.info == {"report": "delivery", "note": "ünïcode"}
    assert (store.log(message_id="m3")[0].cost, store.log(message_id="m3")[0].currency) == (
        "0.04", "EUR")
    assert store.clear_log(before=25.0) == 2
    assert store.clear_log() == 1 and store.log() == []


def test_recurring_sends_remember_when_they_fired(store):
    assert store.recurring_last("report") is None
    store.set_recurring_last("report", 100.0)
    store.set_recurring_last("report", 200.0)
    assert store.recurring_last("report") == 200.0


def test_wait_for_work_waits_and_a_stop_ends_it(store):
    stop = threading.Event()
    started = time.monotonic()
    store.wait_for_work(0.2, stop)
    assert time.monotonic() - started >= 0.15
    stop.set()
    started = time.monotonic()
    store.wait_for_work(30, stop)
    assert time.monotonic() - started < 5


def test_a_store_opens_again_on_the_same_tables(open_stores, store_settings):
    (first,) = open_stores()
    (mid,) = queue(first, "a@example.org")
    (second,) = open_stores()
    assert second.applied == [] and second.find(mid).state == "queued"


def test_sqlite_refuses_an_apps_connection_naming_the_setting(tmp_path):
    store = SQLiteStore(tmp_path / "outbox.db")
    with pytest.raises(ConfigError, match=r"store\.url.*PostgreSQL"):
        store.enqueue([NewMessage("mail", mail(), 0.0)], connection=object())
    assert store.queue(0.0, 0.0) == []
    store.close()
