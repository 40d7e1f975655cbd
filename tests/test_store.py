"""Every method of the ``Store`` protocol, on each store (SQLite and PostgreSQL):
the same calls must give the same answers."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import Clock

from postroom import ConfigError, EmailMessage, SmsMessage
from postroom.scheduling import Schedule
from postroom.store import Claim, Disposition, LogEntry, NewMessage, OptOut, SQLiteStore, Store

LEASE = 60.0


@pytest.fixture
def store(open_stores, clock) -> Store:
    (opened,) = open_stores(clock=clock)
    return opened


def mail(to: str = "ann@example.org", subject: str = "Reminder") -> EmailMessage:
    return EmailMessage(to=to, subject=subject, text="See you at 9.")


def queue(store: Store, *recipients: str, account: str = "mail", at: float = 0.0,
          **options) -> list[str]:
    return store.enqueue([NewMessage(account, mail(rcpt), at, **options) for rcpt in recipients])


def claim(store: Store, clock: Clock, at: float, limit: int = 10, worker: str = "w1",
          account: str = "mail", schedule: Schedule | None = None, **options) -> Claim:
    """Claim at ``at`` (a store claims at its own clock)."""
    clock.now = at
    return store.claim(account, schedule or Schedule(), limit=limit, lease=LEASE, worker=worker,
                       **options)


def ids_of(taken: Claim) -> list[str]:
    return [c.message.id for c in taken.messages]


def sent(message_id: str, at: float, **fields) -> Disposition:
    return Disposition(message_id, "sent", at, **fields)


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
    (claimed,) = claim(store, store._clock, 10.0).messages
    assert claimed.message == email and claimed.due == 5.0
    assert claim(store, store._clock, 10.0, account="texts").messages[0].message.text == sms.text


def test_a_repeated_idempotency_key_queues_nothing_and_returns_the_first_id(store):
    (first,) = queue(store, "ann@example.org", idempotency_key="k1")
    again = store.enqueue([NewMessage("mail", mail("bo@example.org"), 0.0, idempotency_key="k1"),
                           NewMessage("mail", mail("cy@example.org"), 0.0, idempotency_key="k2")])
    assert again[0] == first and again[1] != first
    assert [m.to[0].email for m in store.pending("mail")] == ["ann@example.org",
                                                               "cy@example.org"]


def test_due_accounts_and_next_due_see_queued_and_expired_leases(store, clock):
    assert store.due_accounts(0.0) == [] and store.next_due() is None
    queue(store, "a@example.org", account="mail", at=200.0)
    queue(store, "b@example.org", account="desk", at=50.0)
    assert store.due_accounts(60.0) == ["desk"]
    assert store.next_due() == 50.0
    claim(store, clock, 60.0, 1, account="desk")
    assert store.next_due() == 60.0 + LEASE  # the lease, should its worker die
    assert store.due_accounts(100.0) == []
    assert store.due_accounts(200.0) == ["desk", "mail"]


def test_claim_takes_manual_messages_first_then_oldest_and_never_twice(open_stores, clock):
    one, two = open_stores(2, clock=clock)
    later = queue(one, "a@example.org", "b@example.org", at=10.0)
    early = queue(one, "c@example.org", at=5.0)
    (manual,) = queue(one, "d@example.org", at=20.0, manual=True)
    first = {c.message.id: c for c in claim(one, clock, 30.0, 2).messages}
    assert set(first) == {manual, early[0]}  # handed back in the order they were queued
    assert first[manual].manual and not first[early[0]].manual
    assert first[manual].attempts == 0
    second = claim(two, clock, 30.0, 10, "w2")
    assert ids_of(second) == later and second.lease_until == 30.0 + LEASE
    assert second.token != claim(one, clock, 30.0, 10, "w3").token
    assert claim(one, clock, 30.0, 10, "w3").messages == ()
    assert claim(one, clock, 30.0, 0, "w3").messages == ()
    # Past the lease, another worker may take them again (the first may have died).
    assert set(ids_of(claim(two, clock, 30.0 + LEASE, 10, "w4"))) == {manual, early[0], *later}


def test_claim_of_named_ids_takes_only_those(store, clock):
    (other,) = queue(store, "a@example.org")
    (mine,) = queue(store, "b@example.org", manual=True)
    assert ids_of(claim(store, clock, 1.0, ids=[mine])) == [mine]
    assert claim(store, clock, 1.0, ids=[mine]).messages == ()
    assert ids_of(claim(store, clock, 1.0)) == [other]


def test_claims_of_two_connections_hold_the_accounts_limits_together(open_stores, clock):
    one, two = open_stores(2, clock=clock)
    queue(one, *[f"p{i}@example.org" for i in range(10)])
    limited = Schedule(per_minute=3)
    first = claim(one, clock, 100.0, schedule=limited)
    # In flight under a live lease counts as if sent now: the other may take nothing.
    refused = claim(two, clock, 100.0, worker="w2", schedule=limited)
    assert len(first.messages) == 3 and refused.messages == ()
    assert refused.wake is not None and refused.wake > 100.0
    clock.now = 100.5  # the answers come; a send recorded after "now" would not count
    one.record(first.token, [sent(mid, 100.5) for mid in ids_of(first)])
    assert two.usage("mail", limited).in_flight == 0
    assert [t.timestamp() for t in two.usage("mail", limited).recent] == [100.5] * 3
    assert claim(two, clock, 120.0, worker="w2", schedule=limited).messages == ()
    assert len(claim(two, clock, 161.0, worker="w2", schedule=limited).messages) == 3


def test_a_per_second_bucket_is_shared_by_every_connection(open_stores, clock):
    one, two = open_stores(2, clock=clock)
    queue(one, *[f"p{i}@example.org" for i in range(10)])
    paced = Schedule(per_second=2, burst=2)
    assert len(claim(one, clock, 50.0, schedule=paced).messages) == 2
    assert claim(two, clock, 50.0, worker="w2", schedule=paced).messages == ()
    assert len(claim(two, clock, 50.5, worker="w2", schedule=paced).messages) == 1


def test_renew_extends_only_the_claims_messages_still_held(open_stores, clock):
    one, two = open_stores(2, clock=clock)
    queue(one, "a@example.org", "b@example.org")
    taken = claim(one, clock, 10.0)
    clock.now = 10.0 + LEASE - 1
    assert one.renew(taken.token, LEASE) == 2
    assert claim(two, clock, 10.0 + LEASE + 1, worker="w2").messages == ()  # still held
    taken_over = claim(two, clock, 10.0 + 2 * LEASE, worker="w2")
    assert len(taken_over.messages) == 2
    assert one.renew(taken.token, LEASE) == 0  # lost: another claim holds them now


def test_record_keeps_every_outcome_and_its_log(store, clock):
    done, retry, dead, moved = queue(store, "a@example.org", "b@example.org", "c@example.org",
                                     "d@example.org", route="email")
    taken = claim(store, clock, 1.0)
    clock.now = 3.0  # when the answers below have come
    copy = NewMessage("mail", mail("e@example.org"), 500.0, idempotency_key=f"{done}:deferred")
    store.record(taken.token, [
        sent(done, 2.0, provider_id="p-1", log=entry(done, 2.0, provider_id="p-1")),
        Disposition(retry, "queued", 2.0, not_before=300.0, error="451 later",
                    log=entry(retry, 2.0, "transient", code="451"))], follow_ups=[copy])
    store.record(taken.token, [
        Disposition(dead, "dead", 3.0, error="550 no such user", log=entry(dead, 3.0, "permanent")),
        Disposition(moved, "queued", 3.0, not_before=2.0, counted=False, account="backup"),
    ])
    assert store.find(done).state == "sent" and store.find(done).provider_id == "p-1"
    assert (store.find(retry).state, store.find(retry).attempts) == ("queued", 1)
    assert store.dead() == [(dead, "mail", "550 no such user")]
    assert store.dead("backup") == []
    assert (store.find(moved).account, store.find(moved).attempts) == ("backup", 0)
    assert store.find(copy.message.id).state == "queued"
    recent = store.usage("mail", Schedule(per_minute=10)).recent
    assert [t.timestamp() for t in recent] == [2.0]  # when the provider answered
    assert [(e.message_id, e.outcome) for e in store.log()] == [
        (dead, "permanent"), (retry, "transient"), (done, "accepted")]
    assert store.log(message_id=retry)[0].code == "451"


def test_a_claim_whose_lease_was_lost_changes_nothing_but_a_send(open_stores, clock):
    slow, fast = open_stores(2, clock=clock)
    gone, retried = queue(slow, "a@example.org", "b@example.org")
    lost = claim(slow, clock, 1.0, worker="slow")
    held = claim(fast, clock, 1.0 + LEASE, worker="fast")
    slow.record(lost.token, [sent(gone, 5.0),
                             Disposition(retried, "queued", 5.0, not_before=9.0, error="451")])
    assert slow.find(gone).state == "sent"  # it went, whoever holds it now
    assert (fast.find(retried).state, fast.find(retried).attempts) == ("inflight", 0)
    fast.record(held.token, [sent(gone, 6.0), sent(retried, 6.0)])
    assert fast.find(gone).attempts == 1  # recorded once
    assert fast.usage("mail", Schedule(daily_cap=10)).today == 2


def test_release_gives_claimed_messages_back_unsent(store, clock):
    ids = queue(store, "a@example.org", "b@example.org")
    taken = claim(store, clock, 1.0)
    store.release("another-claims-token", ids)
    assert store.find(ids[0]).state == "inflight"
    store.release(taken.token, ids)
    assert {(store.find(mid).state, store.find(mid).attempts) for mid in ids} == {("queued", 0)}
    assert len(claim(store, clock, 1.0, worker="w2").messages) == 2


def test_an_unreachable_account_pauses_for_all_and_one_probe_tries_it(open_stores, clock):
    one, two = open_stores(2, clock=clock)
    queue(one, "a@example.org", "b@example.org")
    failed = claim(one, clock, 10.0, 1)
    until = one.mark_unreachable("mail", failed.token, "connection refused", 30.0, 600.0)
    assert until == 40.0
    one.release(failed.token, ids_of(failed))
    (pause,) = two.pauses(11.0).values()
    assert (pause.kind, pause.reason, pause.until) == ("unreachable", "connection refused", 40.0)
    assert claim(two, clock, 20.0, worker="w2").messages == ()  # paused for every worker
    probe = claim(two, clock, 41.0, 1, "w2")
    assert probe.probe and len(probe.messages) == 1
    assert claim(one, clock, 42.0).messages == ()  # one probe at a time
    two.mark_reachable("mail")
    assert two.pauses(42.0) == {}
    assert len(claim(one, clock, 42.0).messages) == 1


def test_reroute_moves_only_the_routes_queued_messages(store, clock):
    routed = queue(store, "a@example.org", "b@example.org", route="email")
    (plain,) = queue(store, "c@example.org")
    claim(store, clock, 1.0, 1)
    assert store.reroute("mail", "email", "backup") == 1
    assert store.find(routed[0]).account == "mail"  # in flight: its worker decides
    assert store.find(routed[1]).account == "backup"
    assert store.find(plain).account == "mail"


def test_pending_is_the_queued_messages_oldest_first_less_skipped_keys(store, clock):
    queue(store, "a@example.org", idempotency_key="skip-me")
    kept = queue(store, "b@example.org", "c@example.org", at=500.0)
    claim(store, clock, 1.0, 1)
    queue(store, "d@example.org", account="other")
    assert [m.id for m in store.pending("mail", {"skip-me"})] == kept
    assert len(store.pending("mail")) == 2  # the one in flight is not counted


def test_usage_reads_the_newest_sends_the_days_count_and_those_in_flight(store, clock):
    ids = queue(store, *[f"p{i}@example.org" for i in range(6)])
    taken = claim(store, clock, 1.0, 5)
    store.record(taken.token, [sent(mid, 100.0 + i) for i, mid in enumerate(ids[:5])])
    claim(store, clock, 104.5, 1)
    usage = store.usage("mail", Schedule(per_minute=2, daily_cap=100))
    assert [t.timestamp() for t in usage.recent] == [103.0, 104.0]  # only what a rule counts
    assert (usage.in_flight, usage.today) == (1, 5)
    assert store.usage("other", Schedule(per_minute=2)).recent == ()


def test_pauses_are_set_replaced_and_run_out(store):
    store.pause("mail", 100.0, "throttled")
    store.pause("mail", 200.0, "throttled: wait longer")
    store.pause("texts", 50.0, "out of credit")
    found = store.pauses(60.0)
    assert list(found) == ["mail"]
    assert (found["mail"].until, found["mail"].reason) == (200.0, "throttled: wait longer")
    assert store.pauses(200.0) == {}


def test_queue_counts_each_state_per_account(store, clock):
    due, dead, done, retry, held = queue(store, "a@example.org", "b@example.org",
                                         "c@example.org", "d@example.org", "e@example.org")
    later = queue(store, "f@example.org", at=900.0)
    queue(store, "g@example.org", account="texts", at=800.0)
    taken = claim(store, clock, 1.0, 5)
    store.record(taken.token, [Disposition(dead, "dead", 5.0, error="550"), sent(done, 5.0),
                               Disposition(due, "queued", 5.0, not_before=1.0, error="451"),
                               Disposition(retry, "queued", 5.0, not_before=50.0, error="451")])
    store.cancel(10.0, later)
    rows = {row.account: row for row in store.queue(10.0, 0.0)}
    row = rows["mail"]
    assert (row.waiting, row.scheduled, row.in_flight, row.dead, row.cancelled, row.sent,
            row.retrying) == (1, 1, 1, 1, 1, 1, 1)
    assert row.next_due == 1.0 and row.account == "mail"
    assert (rows["texts"].scheduled, rows["texts"].next_due) == (1, 800.0)
    assert store.queue(10.0, 6.0)[0].sent == 0  # sent before "since"
    assert store.find(held).state == "inflight"


def test_queue_lists_every_account_in_order_and_nothing_for_an_empty_outbox(store, clock):
    assert store.queue(10.0, 0.0) == []
    for account in ("texts", "mail-b", "mail", "a"):
        queue(store, f"{account}@example.org", account=account)
    taken = claim(store, clock, 1.0, account="a")
    store.record(taken.token, [sent(ids_of(taken)[0], 5.0)])
    rows = store.queue(10.0, 0.0)
    assert [row.account for row in rows] == ["a", "mail", "mail-b", "texts"]
    assert [(row.waiting, row.sent) for row in rows] == [(0, 1), (1, 0), (1, 0), (1, 0)]


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


def test_the_opt_outs_of_a_whole_batch_are_found_in_one_question(store):
    numbers = [f"+4477009001{n:02d}" for n in range(40)]
    store.set_opt_out(OptOut("sms", numbers[3], True, 10.0, "texts", "STOP"))
    store.set_opt_out(OptOut("sms", numbers[30], True, 11.0, "texts", "STOP"))
    store.set_opt_out(OptOut("sms", numbers[30], False, 12.0, "texts", "START"))  # back in
    store.set_opt_out(OptOut("email", numbers[7], True, 13.0))  # another scope
    found = store.opted_out_among("sms", numbers + numbers[:5])  # repeats are one question
    assert list(found) == [numbers[3]] and found[numbers[3]].keyword == "STOP"
    assert store.opted_out_among("sms", []) == {}
    assert store.opted_out("sms", numbers[3]) == found[numbers[3]]
    assert store.opted_out("sms", numbers[30]) is None
