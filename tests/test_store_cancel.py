"""Cancel and requeue in the outbox, on each store, with a worker's and an operator's
connection open on one outbox, as a worker process and ``postroom queue cancel`` are."""

from __future__ import annotations

import pytest
from conftest import Clock

from postroom import EmailMessage
from postroom.scheduling import Schedule
from postroom.store import Claim, Disposition, LogEntry, NewMessage, Note, Store, StoredMessage

LEASE = 300.0


@pytest.fixture
def clock() -> Clock:
    return Clock(0.0)


@pytest.fixture
def stores(open_stores, clock):
    """``(worker, operator)``: two connections to one outbox."""
    return open_stores(2, clock=clock)


def claim(store: Store, clock: Clock, at: float, limit: int, worker: str) -> Claim:
    clock.now = at
    return store.claim("mail", Schedule(), limit=limit, lease=LEASE, worker=worker)


def enqueue(store: Store, *recipients: str, account: str = "mail") -> list[str]:
    items = [NewMessage(account, EmailMessage(to=rcpt, subject="Reminder", text="x"), 0.0)
             for rcpt in recipients]
    return store.enqueue(items)


def note(stored: StoredMessage) -> LogEntry:
    return LogEntry(stored.id, 50.0, stored.account, "email_file", stored.recipient,
                    stored.summary, "cancelled", stored.attempts, text="wrong list")


def test_a_message_in_flight_under_its_lease_is_not_cancelled(stores, clock):
    worker, operator = stores
    held, waiting = enqueue(worker, "ann@example.org", "bo@example.org")
    taken = claim(worker, clock, 10.0, 1, "w1")
    (claimed,) = taken.messages
    assert claimed.message.id == held
    found = operator.cancel(20.0, [held, waiting], note=note)
    assert [(h.message_id, h.state, h.changed) for h in found] == [
        (held, "inflight", False), (waiting, "queued", True)]
    worker.record(taken.token, [Disposition(held, "sent", 20.0, provider_id="p1")])
    assert worker.find(held).state == "sent"
    assert operator.find(waiting).state == "cancelled"
    assert [e.message_id for e in operator.log(outcome="cancelled")] == [waiting]


def test_a_cancelled_message_is_never_claimed(stores, clock):
    worker, operator = stores
    (mid,) = enqueue(worker, "ann@example.org")
    assert [h.changed for h in operator.cancel(5.0, [mid])] == [True]
    assert claim(worker, clock, 10.0, 10, "w1").messages == ()
    assert worker.due_accounts(10.0) == [] and worker.next_due() is None


def test_a_claim_whose_lease_ran_out_is_cancelled_and_stays_so(stores, clock):
    worker, operator = stores
    (mid,) = enqueue(worker, "ann@example.org")
    taken = claim(worker, clock, 10.0, 1, "w1")
    # The worker stopped mid-batch: past its lease, no one holds the message.
    (found,) = operator.cancel(10.0 + LEASE + 1, [mid])
    assert (found.state, found.changed) == ("inflight", True)
    # Should that worker come back with a retry, the message stays cancelled,
    # and its lease cannot be brought back to life.
    assert worker.renew(taken.token, LEASE) == 0
    worker.record(taken.token, [Disposition(mid, "queued", 10.0 + LEASE + 2, not_before=0.0,
                                            error="451 later")])
    assert worker.find(mid).state == "cancelled"
    assert claim(worker, clock, 10.0 + 2 * LEASE, 10, "w2").messages == ()


def test_cancel_by_account_takes_only_that_accounts_queued_messages(stores, clock):
    worker, operator = stores
    queued = enqueue(worker, "a@example.org", "b@example.org")
    other = enqueue(worker, "c@example.org", account="office")
    claim(worker, clock, 10.0, 1, "w1")  # the older one
    found = operator.cancel(20.0, account="mail", note=note)
    assert {(h.message_id, h.state, h.changed) for h in found} == {
        (queued[0], "inflight", False), (queued[1], "queued", True)}
    assert operator.find(other[0]).state == "queued"
    (entry,) = operator.log()
    assert (entry.message_id, entry.outcome, entry.text) == (queued[1], "cancelled",
                                                             "wrong list")


def test_ids_of_another_account_and_unknown_ids_are_left(stores):
    worker, operator = stores
    (mine,) = enqueue(worker, "a@example.org")
    (theirs,) = enqueue(worker, "b@example.org", account="office")
    found = operator.cancel(5.0, [mine, theirs, "nope", mine], account="mail")
    assert [(h.message_id, h.account, h.state, h.changed) for h in found] == [
        (mine, "mail", "queued", True), (theirs, "office", "queued", False),
        ("nope", None, "unknown", False)]
    assert operator.find(theirs).state == "queued"


def test_pending_leaves_cancelled_messages_out(stores):
    worker, operator = stores
    kept, dropped = enqueue(worker, "a@example.org", "b@example.org")
    operator.cancel(5.0, [dropped])
    assert [m.id for m in worker.pending("mail")] == [kept]


def test_queue_counts_cancelled_messages(stores):
    worker, operator = stores
    ids = enqueue(worker, "a@example.org", "b@example.org", "c@example.org")
    operator.cancel(5.0, ids[:2])
    (row,) = worker.queue(5.0, 0.0)
    assert (row.waiting, row.cancelled) == (1, 2)


def test_requeue_puts_dead_messages_back_due_now_with_no_tries(stores, clock):
    worker, operator = stores
    dead, alive = enqueue(worker, "a@example.org", "b@example.org")
    taken = claim(worker, clock, 10.0, 2, "w1")
    worker.record(taken.token, [Disposition(dead, "dead", 11.0, error="550 no such user"),
                                Disposition(alive, "sent", 11.0)])
    assert worker.find(dead).attempts == 1
    found = operator.requeue(100.0, account="mail")
    assert [(h.message_id, h.state, h.changed) for h in found] == [(dead, "dead", True)]
    stored = worker.find(dead)
    assert (stored.state, stored.attempts) == ("queued", 0)
    assert worker.dead() == []
    assert [c.message.id for c in claim(worker, clock, 100.0, 10, "w2").messages] == [dead]
    (left,) = operator.requeue(100.0, [alive])
    assert (left.state, left.changed) == ("sent", False)
    assert operator.find(alive).state == "sent"


def test_a_failing_note_leaves_the_outbox_as_it_was(stores):
    worker, operator = stores
    (mid,) = enqueue(worker, "a@example.org")

    def fails(stored: StoredMessage) -> LogEntry:
        raise RuntimeError("no log for you")

    broken: Note = fails
    with pytest.raises(RuntimeError):
        operator.cancel(5.0, [mid], note=broken)
    assert worker.find(mid).state == "queued"
