"""Sending through the fake gateway: request shape, chunks, refusals, lost answers."""

from __future__ import annotations

import logging
import shutil
from decimal import Decimal

from loopback.ports import refused_port

from postroom import Outcome, SmsMessage
from postroom.dispatch import each_result
from postroom_sms_credit.sending import deduplication_id, prepare, read_answer

NUMBER = "+447700900123"
OTHER = "+447700900456"
TOKEN_SECRET = "t0ken/secret+with&odd=chars"  # the fake gateway's token secret, as conftest sets


def deliver(engine, *messages: SmsMessage):
    """Send now through the provider's hook, taking every result as a worker does."""
    config = engine.account("texts").config
    results = list(each_result(engine.registry.hook.postroom_send(config=config,
                                                                  messages=list(messages))))
    assert [r.message_id for r in results] == [m.id for m in messages]
    return results


def send(engine, *texts: str, to: str = NUMBER):
    messages = [engine.message("texts", to=to, text=text) for text in texts]
    return messages, deliver(engine, *messages)


def test_one_message_goes_as_the_api_describes(engine, gateway):
    (message,), (result,) = send(engine, "See you at 9.")
    (post,) = gateway.submissions
    assert post.path == "/v1/messages" and post.login == "fake-token-id"
    assert int(post.query["deduplication-id"]) == deduplication_id(post.body)
    assert post.body == [{"to": NUMBER, "body": "See you at 9.", "encoding": "TEXT",
                          "longMessageMaxParts": 1, "userSuppliedId": message.id[:20],
                          "from": "Clinic"}]
    assert result.ok and result.provider_id == gateway.charges[0].message_id
    assert result.info["status"] == "ACCEPTED.null"
    assert result.info["submission_id"].startswith("1-")
    assert (result.info["segments"], result.info["estimated_credits"]) == ("1", "1")
    assert result.cost is None  # the gateway leaves creditCost empty when it takes a message


def test_text_outside_gsm_goes_as_unicode_and_is_charged_so(engine, gateway):
    _, (result,) = send(engine, "Zaterdag 9 uur 👍 " + "x" * 60)
    assert gateway.submissions[0].body[0]["encoding"] == "UNICODE"
    assert result.info["encoding"] == "UCS-2"
    assert gateway.charges[0].parts == int(result.info["segments"]) == 2


def test_a_long_message_is_not_cut_at_the_gateways_default_of_three_parts(engine, gateway):
    _, (result,) = send(engine, "x" * 600)  # four parts of 153
    assert result.ok, result.text
    assert gateway.submissions[0].body[0]["longMessageMaxParts"] == 4
    assert gateway.charges[0].parts == 4


def test_max_parts_refuses_a_longer_message_before_sending(make_engine, settings, gateway):
    engine = make_engine({**settings, "max_parts": 2})
    _, (long, short) = send(engine, "ж" * 135, "Hi")  # UCS-2: 135 units are three parts
    assert (long.outcome, long.code) == (Outcome.PERMANENT, "max_parts")
    assert "3 SMS parts (UCS-2" in long.text and "at most 2" in long.text
    assert long.info["category"] == "too-long"
    assert short.ok
    (post,) = gateway.submissions
    assert [e["body"] for e in post.body] == ["Hi"]
    assert post.body[0]["longMessageMaxParts"] == 2


def test_a_message_may_name_its_own_sender(engine, gateway):
    local = SmsMessage(to=NUMBER, text="Hi", sender="07700 900999", region="GB")
    short_code = SmsMessage(to=NUMBER, text="Hi", sender="84433")
    bad = SmsMessage(to=NUMBER, text="Hi", sender="A sender far too long")
    results = deliver(engine, local, short_code, bad)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED,
                                            Outcome.PERMANENT]
    assert results[2].code == "sender"
    senders = [e["from"] for e in gateway.submissions[0].body]
    assert senders == ["+447700900999", {"type": "SHORTCODE", "address": "84433"}]


def test_a_batch_goes_in_chunks_over_one_connection(make_engine, settings, gateway):
    engine = make_engine({**settings, "chunk_size": 100})
    messages, results = send(engine, *[f"message {n}" for n in range(250)])
    assert all(r.ok for r in results)
    assert [len(p.body) for p in gateway.submissions] == [100, 100, 50]
    assert gateway.connections == 1
    refs = [e["userSuppliedId"] for p in gateway.submissions for e in p.body]
    assert refs == [m.id[:20] for m in messages]
    ids = {p.query["deduplication-id"] for p in gateway.submissions}
    assert len(ids) == 3


def test_a_refused_number_fails_alone_and_the_rest_are_charged_once(make_engine, settings,
                                                                   gateway):
    gateway.refuse("+447700900777")
    engine = make_engine(settings)
    numbers = [f"+4477009001{n:02d}" for n in range(7)]
    numbers.insert(5, "+447700900777")
    messages = [engine.message("texts", to=n, text="Hi") for n in numbers]
    results = deliver(engine, *messages)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 5 + [Outcome.PERMANENT] + [
        Outcome.ACCEPTED] * 2
    assert (results[5].code, results[5].info["category"]) == ("HTTP 400", "bad-request")
    assert "+447700900777 is not a valid mobile number" in results[5].text
    assert sorted(c.to for c in gateway.charges) == sorted(set(numbers) - {"+447700900777"})


def test_a_blocked_number_fails_for_good_and_is_billed(engine, gateway):
    gateway.block(OTHER)
    _, (result,) = send(engine, "Hi", to=OTHER)
    assert (result.outcome, result.code) == (Outcome.PERMANENT, "FAILED.BLOCKED")
    assert result.info["category"] == "blocked" and "STOP" in result.info["hint"]
    assert result.provider_id == gateway.charges[0].message_id  # billed, as documented


def test_out_of_credits_stops_the_account_and_says_what_is_missing(make_engine, settings,
                                                                   gateway):
    gateway.balance = Decimal(2)
    engine = make_engine({**settings, "chunk_size": 2})
    _, results = send(engine, "one", "two", "three", "four", "x" * 200)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2 + [
        Outcome.ACCOUNT_STOPPED] * 3
    third, fourth, fifth = results[2:]
    assert (third.code, third.info["category"]) == ("HTTP 403", "insufficient-credits")
    assert "top up" in third.info["hint"] and "stay queued" in third.info["hint"]
    assert fifth.text.startswith("not sent: an earlier request of this batch was refused")
    expected = "the 3 messages not sent need 4 credits and the account has 0: 4 missing"
    assert all(expected in r.text for r in (third, fourth, fifth)), third.text
    assert len(gateway.submissions) == 2  # the third chunk was never posted
    assert gateway.charged == 2


def test_wrong_credentials_stop_the_account_after_one_request(make_engine, settings, gateway):
    engine = make_engine({**settings, "token_secret": "wrong", "chunk_size": 1})
    _, results = send(engine, "one", "two")
    assert {r.outcome for r in results} == {Outcome.ACCOUNT_STOPPED}
    assert results[0].info["category"] == "auth-failed"
    assert "token_secret" in results[0].info["hint"]
    assert len(gateway.submissions) == 1


def test_throttling_holds_the_batch_with_the_gateways_wait(make_engine, settings, gateway):
    engine = make_engine({**settings, "chunk_size": 1})
    gateway.answer_next(429, "too-many-requests", "Too Many Requests", retry_after="7")
    _, results = send(engine, "one", "two")
    assert [r.outcome for r in results] == [Outcome.THROTTLED] * 2
    assert [r.retry_after for r in results] == [7.0, 7.0]
    assert len(gateway.submissions) == 1


def test_a_server_error_is_resubmitted_once_then_left_to_the_engine(make_engine, settings,
                                                                    gateway):
    engine = make_engine({**settings, "chunk_size": 1})
    gateway.answer_next(503, times=2)
    _, results = send(engine, "one", "two")
    assert [r.outcome for r in results] == [Outcome.TRANSIENT] * 2
    assert (results[0].code, results[0].info["category"]) == ("HTTP 503", "server-error")
    assert results[1].text.startswith("not sent")
    posts = gateway.submissions
    assert len(posts) == 2 and posts[0].query == posts[1].query  # same deduplication id


def test_a_passing_server_error_is_overcome_by_the_resubmission(engine, gateway):
    gateway.answer_next(502)
    _, (result,) = send(engine, "Hi")
    assert result.ok
    assert (len(gateway.submissions), len(gateway.charges)) == (2, 1)


def test_a_lost_answer_is_resubmitted_and_not_charged_twice(engine, gateway):
    gateway.lose_answers(1)
    _, results = send(engine, "one", "two")
    assert all(r.ok for r in results), results
    first, again = gateway.submissions
    assert first.query["deduplication-id"] == again.query["deduplication-id"]
    assert (first.replayed, again.replayed) == (False, True)
    assert gateway.charged == 2 and [c.message_id for c in gateway.charges] == [
        r.provider_id for r in results]


def test_a_chunk_retried_later_by_the_engine_is_not_charged_twice(make_engine, settings,
                                                                  gateway):
    engine = make_engine({**settings, "resubmits": 0})
    gateway.lose_answers(1)
    messages, (result,) = send(engine, "Hi")
    assert (result.outcome, result.info["category"]) == (Outcome.TRANSIENT, "connection-lost")
    assert gateway.charged == 1  # taken and charged, though the answer never came
    (again,) = deliver(engine, *messages)  # the engine's retry of the same message
    assert again.ok and again.provider_id == gateway.charges[0].message_id
    assert gateway.charged == 1 and gateway.submissions[-1].replayed


def test_an_unreadable_success_is_resubmitted_for_the_real_answer(engine, gateway):
    gateway.answer_next(201)  # a body that is no list of messages
    _, (result,) = send(engine, "Hi")
    assert result.ok and gateway.charged == 1


def test_a_timeout_is_transient(make_engine, settings, gateway):
    gateway.delay = 5  # released when the server stops
    engine = make_engine({**settings, "timeout": 0.2, "resubmits": 0})
    _, (result,) = send(engine, "Hi")
    assert (result.outcome, result.info["category"]) == (Outcome.TRANSIENT, "timeout")


def test_a_refused_connection_is_unreachable_and_not_resubmitted(make_engine, settings,
                                                                 caplog):
    caplog.set_level(logging.INFO)
    engine = make_engine({**settings, "base_url": f"https://127.0.0.1:{refused_port()}/v1"})
    _, results = send(engine, "one", "two")
    assert {(r.outcome, r.info["category"]) for r in results} == {(Outcome.UNREACHABLE,
                                                                   "connect-failed")}
    assert "Connection refused" in results[0].text
    assert "resubmitting" not in caplog.text


def test_an_untrusted_certificate_is_refused_and_pauses_the_account(make_engine, settings):
    settings = {k: v for k, v in settings.items() if k != "ca_bundle"}
    _, results = send(make_engine(settings), "Hi", "there")
    assert {(r.outcome, r.info["category"]) for r in results} == {(Outcome.ACCOUNT_STOPPED,
                                                                   "tls-untrusted")}
    result = results[0]
    assert "ca_bundle" in result.info["hint"]


def test_a_ca_file_deleted_after_validation_pauses_the_account(make_engine, settings, gateway,
                                                               tmp_path):
    mine = shutil.copy(settings["ca_bundle"], tmp_path / "ca.pem")
    engine = make_engine({**settings, "ca_bundle": str(mine)})
    assert not engine.validate()
    mine.unlink()
    _, results = send(engine, "Hi", "there")
    assert {(r.outcome, r.info["category"]) for r in results} == {(Outcome.ACCOUNT_STOPPED,
                                                                   "ca-file-unusable")}
    assert f"the CA file {mine}, named by the account's ca_bundle, does not exist" in (
        results[0].text)
    assert gateway.charged == 0


def test_a_secret_echoed_by_the_gateway_is_scrubbed(engine, gateway, caplog):
    caplog.set_level(logging.DEBUG)
    gateway.answer_next(500, "internal", f"Failure for {TOKEN_SECRET}", times=2)
    _, (result,) = send(engine, "Hi")
    assert "Failure for ***" in result.text
    assert TOKEN_SECRET not in repr(result) + caplog.text


def test_the_deduplication_id_follows_the_content():
    entries = [{"to": NUMBER, "body": "Hi", "userSuppliedId": "a" * 20}]
    same = [{"userSuppliedId": "a" * 20, "body": "Hi", "to": NUMBER}]
    other = [{"to": NUMBER, "body": "Hi", "userSuppliedId": "b" * 20}]
    assert deduplication_id(entries) == deduplication_id(same)
    assert deduplication_id(entries) != deduplication_id(other)
    assert 0 < deduplication_id(entries) < 2**31


def test_answers_are_matched_by_id_or_else_by_position(engine):
    config = engine.account("texts").config
    one, two = (prepare(config, i, engine.message("texts", to=NUMBER, text=t))
                for i, t in enumerate(["one", "two"]))
    taken = {"type": "ACCEPTED"}
    swapped = [{"id": "2", "userSuppliedId": two.ref, "status": taken},
               {"id": "1", "userSuppliedId": one.ref, "status": taken}]
    assert [r.provider_id for r in read_answer([one, two], swapped)] == ["1", "2"]
    anonymous = [{"id": "1", "status": taken}, {"id": "2", "status": taken}]
    assert [r.provider_id for r in read_answer([one, two], anonymous)] == ["1", "2"]
    short = read_answer([one, two], [{"id": "1", "status": taken}])
    assert [r.outcome for r in short] == [Outcome.TRANSIENT] * 2
    assert short[0].info["category"] == "bad-response"
