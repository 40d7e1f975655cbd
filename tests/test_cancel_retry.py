"""Engine.cancel and Engine.requeue, with real sends through the file providers:
what a worker sends afterwards, what the delivery log says, what is left and why."""

from __future__ import annotations

import json

import pytest

from postroom import ConfigError, Engine, MessageError
from postroom.scheduling import Schedule
from postroom.store import Disposition, LogEntry


@pytest.fixture
def engine(tmp_path, store_settings):
    """``mail`` writes .eml files, ``texts`` JSON lines; one try before a message is dead;
    on each store."""
    with Engine.from_dict({"region": "GB", "delivery": {"max_attempts": 1},
                           "store": store_settings,
                           "accounts": {"mail": {"provider": "email_file"},
                                        "texts": {"provider": "sms_file"}}},
                          base_dir=tmp_path, environ={}) as made:
        yield made


def emails(tmp_path) -> list[str]:
    folder = tmp_path / "outbox" / "email"
    return sorted(p.name for p in folder.glob("*.eml")) if folder.exists() else []


def texted(tmp_path) -> list[str]:
    path = tmp_path / "outbox" / "sms.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["to"] for line in lines]


def queue_mail(engine: Engine, *recipients: str) -> list[str]:
    return [mid for rcpt in recipients
            for mid in engine.send("mail", to=rcpt, subject="Wrong list", text="x")]


def test_a_cancelled_account_sends_nothing_and_others_go_on(engine, tmp_path):
    queue_mail(engine, "ann@example.org", "bo@example.org")
    engine.send("texts", to="07700 900123", text="Right list")
    changed = engine.cancel(account="mail", reason="sent to the wrong list")
    assert changed.ok and not changed.left
    assert sorted(h.recipient for h in changed.done) == ["ann@example.org", "bo@example.org"]
    report = engine.run_worker(once=True, wait=0)
    assert report.sent == 1
    assert emails(tmp_path) == [] and texted(tmp_path) == ["+447700900123"]
    rows = engine.log(outcome="cancelled")
    assert sorted(r.recipient for r in rows) == ["ann@example.org", "bo@example.org"]
    assert {(r.account, r.provider, r.text) for r in rows} == {
        ("mail", "email_file", "sent to the wrong list")}
    (row,) = [r for r in engine.queue() if r.account == "mail"]
    assert (row.waiting, row.cancelled) == (0, 2)


def test_cancel_by_id_leaves_sent_dead_unknown_and_in_flight_with_why(engine, tmp_path):
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where a folder should be")
    (dead,) = queue_mail(engine, "d@example.org")
    engine.run_worker(once=True, wait=0)  # cannot write: one try, then dead
    blocker.unlink()
    (sent,) = queue_mail(engine, "a@example.org")
    engine.run_worker(once=True, wait=0)
    claimed, waiting = queue_mail(engine, "b@example.org", "c@example.org")
    # A worker elsewhere holds the older one under its lease.
    engine.store.claim("mail", Schedule(), limit=1, lease=300, worker="busy-worker")
    changed = engine.cancel([sent, dead, "no-such-id", claimed, waiting])
    assert [h.message_id for h in changed.done] == [waiting]
    why = {item.message_id: (item.state, item.why) for item in changed.left}
    assert why[sent] == ("sent", "it was sent already: a sent message cannot be called back")
    assert why[dead][0] == "dead" and "failed for good" in why[dead][1]
    assert why["no-such-id"][0] == "unknown" and "postroom log" in why["no-such-id"][1]
    assert why[claimed][0] == "inflight" and "sending it right now" in why[claimed][1]
    assert not changed.ok
    assert engine.store.find(claimed).state == "inflight"
    assert [e.message_id for e in engine.log(outcome="cancelled")] == [waiting]


def test_a_cancel_again_is_no_failure(engine):
    (mid,) = queue_mail(engine, "a@example.org")
    assert engine.cancel([mid]).ok
    again = engine.cancel([mid])
    assert not again.done and [i.already for i in again.left] == [True]
    assert again.ok
    assert len(engine.log(outcome="cancelled")) == 1


def test_cancel_with_an_account_keeps_to_it(engine):
    (mail,) = queue_mail(engine, "a@example.org")
    (text,) = engine.send("texts", to="07700 900123", text="x")
    changed = engine.cancel([mail, text], account="texts")
    assert [h.message_id for h in changed.done] == [text]
    (left,) = changed.left
    assert left.message_id == mail and "account mail, not texts" in left.why
    assert engine.store.find(mail).state == "queued"


def test_cancel_and_requeue_need_ids_or_an_account(engine):
    with pytest.raises(MessageError, match=r"give the ids .* or an account to cancel"):
        engine.cancel()
    with pytest.raises(MessageError, match="or an account to retry"):
        engine.requeue([" "])
    with pytest.raises(ConfigError, match=r"no account named .mial.*mail, texts"):
        engine.cancel(account="mial")


def test_requeued_dead_messages_go_once_the_cause_is_fixed(engine, tmp_path):
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where a folder should be")
    ids = queue_mail(engine, "ann@example.org", "bo@example.org")
    assert engine.run_worker(once=True, wait=0).dead == 2
    assert {mid for mid, _, _ in engine.store.dead()} == set(ids)
    blocker.unlink()  # the admin fixes the cause
    changed = engine.requeue(account="mail")
    assert changed.ok and sorted(h.message_id for h in changed.done) == sorted(ids)
    assert all(engine.store.find(mid).attempts == 0 for mid in ids)
    assert engine.run_worker(once=True, wait=0).sent == 2
    assert len(emails(tmp_path)) == 2
    for mid in ids:
        accepted, requeued, failed = engine.log(message_id=mid)
        assert (accepted.outcome, requeued.outcome, failed.outcome) == (
            "accepted", "requeued", "dead")  # max_attempts = 1: the first try gave up
        assert accepted.attempt == 1  # tries counted from zero again
        assert requeued.text == "back in the queue after 1 try, counted from zero again"


def test_requeue_leaves_what_is_not_dead(engine):
    queued, cancelled = queue_mail(engine, "a@example.org", "b@example.org")
    engine.cancel([cancelled])
    changed = engine.requeue([queued, cancelled])
    assert not changed.done
    why = {item.message_id: item for item in changed.left}
    assert why[queued].already and "queued already" in why[queued].why
    assert not why[cancelled].already and "send it again" in why[cancelled].why
    assert not changed.ok
    assert engine.log(outcome="requeued") == []


def test_one_id_as_a_string_is_one_message_not_its_characters(engine, tmp_path):
    (mid,) = queue_mail(engine, "a@example.org")
    changed = engine.cancel(mid)
    assert [h.message_id for h in changed.done] == [mid] and not changed.left
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where a folder should be")
    (dead,) = queue_mail(engine, "b@example.org")
    engine.run_worker(once=True, wait=0)
    blocker.unlink()
    changed = engine.requeue(dead)
    assert [h.message_id for h in changed.done] == [dead] and not changed.left


def test_retrying_a_cancelled_message_says_a_new_key_is_needed_to_send_it_again(engine):
    (mid,) = engine.send("mail", to="a@example.org", subject="Invoice", text="x",
                         idempotency_key="invoice-7")
    engine.cancel(mid)
    (left,) = engine.requeue(mid).left
    assert left.why == ("it was cancelled: if it should go after all, send it again, "
                        "with a new idempotency key if it had one")
    # The same key finds the cancelled message and queues nothing.
    assert engine.send("mail", to="a@example.org", subject="Invoice", text="x",
                       idempotency_key="invoice-7") == [mid]
    assert engine.store.find(mid).state == "cancelled"
    (again,) = engine.send("mail", to="a@example.org", subject="Invoice", text="x",
                           idempotency_key="invoice-7-again")
    assert again != mid and engine.store.find(again).state == "queued"


LEASE_RAN_OUT = ("its worker's lease ran out; if that worker is still running it may "
                 "already have sent it: check `postroom log` for it")


def test_a_message_whose_lease_ran_out_is_cancelled_with_a_caveat_and_a_late_send_counts(
        engine, monkeypatch):
    (mid,) = queue_mail(engine, "a@example.org")
    now = engine.clock()
    taken = engine.store.claim("mail", Schedule(), limit=1, lease=300, worker="slow-worker")
    (claimed,) = taken.messages
    # The worker has been slow ever since: its lease ran out 700 s ago.
    monkeypatch.setattr(engine, "clock", lambda: now + 1000)
    changed = engine.cancel([mid], reason="wrong list")
    (item,) = changed.done
    assert (item.message_id, item.state, item.caveat) == (mid, "inflight", LEASE_RAN_OUT)
    assert not changed.left and not changed.ok
    assert engine.store.find(mid).state == "cancelled"
    # The worker was alive after all, and its send went through: that is the truth.
    (result,) = engine.deliver("mail", [claimed.message])
    engine.store.record(taken.token, [Disposition(
        mid, "sent", now + 1000, provider_id=result.provider_id,
        log=LogEntry(mid, engine.clock(), "mail", "email_file", "a@example.org",
                     claimed.message.summary, "accepted"))])
    assert engine.store.find(mid).state == "sent"
    assert [e.outcome for e in reversed(engine.log(message_id=mid))] == ["cancelled",
                                                                          "accepted"]


def test_a_message_cancelled_while_queued_has_no_caveat(engine):
    (mid,) = queue_mail(engine, "a@example.org")
    changed = engine.cancel(mid)
    assert [item.caveat for item in changed.done] == [""] and changed.ok
