"""Sending through the fake API over HTTPS: parts, prices, every class of refusal."""

from __future__ import annotations

import shutil
import socket
from decimal import Decimal

import pytest

from postroom import Outcome, SmsMessage
from postroom.dispatch import each_result

NUMBER = "+447700900123"
OTHER = "+447700900456"


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


def test_a_single_part_message(engine, api):
    (message,), (result,) = send(engine, "See you at 9.")
    assert result.ok and result.message_id == message.id
    (form,) = api.sms
    assert form["from"] == "Clinic" and form["to"] == "447700900123"
    assert form["text"] == "See you at 9." and form["client-ref"] == message.id
    assert form["api_key"] == api.api_key and "type" not in form
    assert result.provider_id == "0C000000217B7F02"
    assert (result.cost, result.currency) == (Decimal("0.0333"), "EUR")
    assert result.info["remaining_balance"] == "9.96670000"
    assert result.info["network"] == "23410"
    assert (result.info["encoding"], result.info["segments"], result.info["parts"]) == (
        "GSM-7", "1", "1")


def test_a_multi_part_message_reports_every_part(engine, api):
    _, (result,) = send(engine, "x" * 161)
    assert result.ok
    assert result.info["parts"] == "2"
    assert result.info["message_ids"] == "0C000000217B7F02,0C000000217B7F03"
    assert result.cost == Decimal("0.0666")
    assert result.info["remaining_balance"] == "9.93340000"


def test_text_outside_gsm7_goes_as_unicode(engine, api):
    _, (result,) = send(engine, "Zaterdag om 9 uur 👍")
    assert api.sms[0]["type"] == "unicode"
    assert result.ok and result.info["encoding"] == "UCS-2"


def test_a_message_may_name_its_own_sender(engine, api):
    message = SmsMessage(to=NUMBER, text="Hi", sender="07700 900999", region="GB")
    (result,) = deliver(engine, message)
    assert result.ok and api.sms[0]["from"] == "447700900999"
    bad = SmsMessage(to=NUMBER, text="Hi", sender="A sender far too long")
    (result,) = deliver(engine, bad)
    assert (result.outcome, result.code) == (Outcome.PERMANENT, "sender")
    assert len(api.sms) == 1  # the bad one never left


def test_receipts_are_asked_for_when_a_receipt_url_is_set(make_engine, settings, api):
    engine = make_engine({**settings, "receipt_url": "https://app.example.org/receipts"})
    send(engine, "Hi")
    assert api.sms[0]["status-report-req"] == "1"
    assert api.sms[0]["callback"] == "https://app.example.org/receipts"


@pytest.mark.parametrize(("status", "outcome"), [
    ("1", Outcome.THROTTLED),
    ("5", Outcome.TRANSIENT),
    ("10", Outcome.TRANSIENT),
    ("6", Outcome.PERMANENT),
    ("7", Outcome.PERMANENT),
    ("15", Outcome.PERMANENT),
    ("33", Outcome.PERMANENT),
    ("99", Outcome.PERMANENT),  # undocumented
])
def test_each_class_of_refusal(engine, api, status, outcome):
    api.reject(NUMBER, status)
    _, (result,) = send(engine, "Hi")
    assert (result.outcome, result.code) == (outcome, status)
    assert result.info["category"] and result.info["hint"]
    if outcome is Outcome.THROTTLED:
        assert result.retry_after == 1.0


def test_a_refused_number_does_not_hold_up_the_others(engine, api):
    api.reject(OTHER, "7")
    messages = [engine.message("texts", to=to, text="Hi") for to in (NUMBER, OTHER, NUMBER)]
    results = deliver(engine, *messages)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.PERMANENT,
                                            Outcome.ACCEPTED]
    assert "Number Barred (status 7): Number barred." in results[1].text


def test_a_multi_part_message_is_accepted_only_if_every_part_is(engine, api):
    api.reject(NUMBER, "1", part=1)
    _, (result,) = send(engine, "x" * 200)
    assert (result.outcome, result.code) == (Outcome.THROTTLED, "1")
    assert "1 of 2 parts were accepted" in result.text
    assert result.provider_id == "0C000000217B7F02"
    assert result.cost == Decimal("0.0333")  # the part that went is still charged


def test_out_of_credit_stops_the_account_and_holds_the_rest_back(make_engine, settings, api):
    api.balance = Decimal("0.05")  # enough for one part
    engine = make_engine({**settings, "connections": 1})  # one at a time: a known order
    _, results = send(engine, "one", "two", "three")
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCOUNT_STOPPED,
                                            Outcome.ACCOUNT_STOPPED]
    assert results[1].code == "9" and "top it up" in results[1].info["hint"]
    assert results[2].text.startswith("not sent:")
    assert len(api.sms) == 2  # the third was never sent


def test_refused_credentials_stop_the_account_and_hold_the_rest_back(make_engine, settings,
                                                                      api):
    engine = make_engine({**settings, "api_secret": "wrong"})  # four connections: one goes
    _, results = send(engine, "one", "two", "three")
    assert [(r.outcome, r.code) for r in results] == [(Outcome.ACCOUNT_STOPPED, "4")] * 3
    assert "api_key and api_secret" in results[0].info["hint"]
    assert results[1].text.startswith("not sent:")
    assert len(api.sms) == 1


def test_throttling_holds_the_rest_of_the_batch_back(make_engine, settings, api):
    api.answer_next(429)
    _, results = send(make_engine(settings), "one", "two", "three")
    assert [r.outcome for r in results] == [Outcome.THROTTLED] * 3
    assert [r.retry_after for r in results] == [2.0] * 3
    assert len(api.sms) == 0  # the 429 came before the fake read the form


def test_signed_requests_carry_sig_and_no_secret(make_engine, settings, ca):
    from loopback.nexmo_api import fake_nexmo

    for method in ("md5hash", "sha256", "sha512"):
        with fake_nexmo(ca, signature_secret="sign-me", signature_method=method) as api:
            engine = make_engine({**settings, "base_url": api.url, "api_secret": "unused",
                                  "signature_secret": "sign-me", "signature_method": method})
            _, (result,) = send(engine, "Signed & sealed = delivered")
            assert result.ok, result.text
            (form,) = api.sms
            assert "api_secret" not in form and form["sig"] and form["timestamp"].isdigit()


def test_a_wrong_signature_secret_is_refused(make_engine, settings, ca):
    from loopback.nexmo_api import fake_nexmo

    with fake_nexmo(ca, signature_secret="right", signature_method="sha1") as api:
        engine = make_engine({**settings, "base_url": api.url, "signature_secret": "wrong",
                              "signature_method": "sha1"})
        _, (result,) = send(engine, "Hi")
    assert (result.outcome, result.code) == (Outcome.ACCOUNT_STOPPED, "14")


# The guide's mapping of HTTP statuses (docs/writing-a-provider.md, section 8): the SMS API
# answers its own refusals with 200 and a status per part, so these come from Vonage's
# front end, or from a proxy before it.
HTTP_ERRORS = {
    400: (Outcome.PERMANENT, "bad-request", "correct the number"),
    401: (Outcome.ACCOUNT_STOPPED, "auth-failed", "api_key and api_secret"),
    403: (Outcome.ACCOUNT_STOPPED, "forbidden", "has credit"),
    404: (Outcome.ACCOUNT_STOPPED, "not-found", "check base_url"),
    405: (Outcome.TRANSIENT, "http-error", "check base_url"),
    429: (Outcome.THROTTLED, "throttled", "lower rate_per_second"),
    500: (Outcome.TRANSIENT, "server-error", "postroom retries"),
    503: (Outcome.TRANSIENT, "server-error", "postroom retries"),
}


@pytest.mark.parametrize("http_status", sorted(HTTP_ERRORS))
def test_http_errors(engine, api, http_status):
    outcome, category, hint = HTTP_ERRORS[http_status]
    api.answer_next(http_status)
    _, (result,) = send(engine, "Hi")
    assert (result.outcome, result.code) == (outcome, f"HTTP {http_status}")
    assert result.info["category"] == category and hint in result.info["hint"]
    assert result.retry_after == (2.0 if http_status == 429 else None)


def test_an_error_answer_quotes_its_problem_document(engine, api):
    api.answer_next(403, '{"type": "https://developer.vonage.com/api-errors#out-of-credit", '
                         '"title": "You do not have enough credit", '
                         '"detail": "Your current balance is 0.01, but that costs 0.0333."}',
                    "application/problem+json")
    _, (result,) = send(engine, "Hi")
    assert result.outcome is Outcome.ACCOUNT_STOPPED
    assert "(You do not have enough credit: Your current balance is 0.01" in result.text


@pytest.mark.parametrize("http_status", [401, 403, 404])
def test_a_refusal_of_the_account_holds_the_rest_of_the_batch_back(make_engine, settings, api,
                                                                   http_status):
    engine = make_engine(settings)  # four connections: the first message goes alone
    api.answer_next(http_status)
    _, results = send(engine, "one", "two", "three")
    assert [r.outcome for r in results] == [Outcome.ACCOUNT_STOPPED] * 3
    assert [r.text.startswith("not sent:") for r in results] == [False, True, True]
    assert {r.info["category"] for r in results} == {HTTP_ERRORS[http_status][1]}
    assert len(api.sms) == 0  # the refusal came before the fake read the form


@pytest.mark.parametrize("http_status", [400, 405, 503])
def test_a_refusal_of_one_request_does_not_hold_up_the_others(make_engine, settings, api,
                                                              http_status):
    engine = make_engine({**settings, "connections": 1})  # one at a time: a known order
    api.answer_next(http_status)
    _, results = send(engine, "one", "two", "three")
    assert [r.outcome for r in results] == [HTTP_ERRORS[http_status][0]] + [
        Outcome.ACCEPTED] * 2
    assert [f["text"] for f in api.sms] == ["two", "three"]


def test_a_timeout_is_transient(make_engine, settings, api):
    api.delay = 5  # released when the server stops
    engine = make_engine({**settings, "timeout": 0.2})
    _, (result,) = send(engine, "Hi")
    assert (result.outcome, result.info["category"]) == (Outcome.TRANSIENT, "timeout")


def test_a_refused_connection_is_unreachable(make_engine, settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = make_engine({**settings, "base_url": f"https://127.0.0.1:{port}"})
    _, (result,) = send(engine, "Hi")
    assert (result.outcome, result.info["category"]) == (Outcome.UNREACHABLE, "connect-failed")
    assert "Connection refused" in result.text


def test_an_untrusted_certificate_is_refused(make_engine, settings):
    settings = {k: v for k, v in settings.items() if k != "ca_bundle"}
    _, (result,) = send(make_engine(settings), "Hi")
    assert (result.outcome, result.info["category"]) == (Outcome.ACCOUNT_STOPPED, "tls-untrusted")
    assert "ca_bundle" in result.info["hint"]


def test_a_ca_file_deleted_after_validation_stops_the_account(make_engine, settings, api,
                                                              tmp_path):
    mine = shutil.copy(settings["ca_bundle"], tmp_path / "ca.pem")
    engine = make_engine({**settings, "ca_bundle": str(mine), "connections": 1})
    assert "ca_bundle" not in {problem.field for _, problem in engine.validate()}
    mine.unlink()
    _, results = send(engine, "one", "two")
    first = results[0]
    assert (first.outcome, first.info["category"]) == (Outcome.ACCOUNT_STOPPED,
                                                       "ca-file-unusable")
    assert f"the CA file {mine}, named by the account's ca_bundle, does not exist" in first.text
    assert "ca_bundle" in first.info["hint"]
    assert not any(r.ok for r in results) and api.sms == []


def test_the_ca_bundle_variable_of_requests_is_still_honoured(make_engine, settings,
                                                              monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", settings["ca_bundle"])
    settings = {k: v for k, v in settings.items() if k != "ca_bundle"}
    _, (result,) = send(make_engine(settings), "Hi")
    assert result.ok, result.text


def test_a_batch_reuses_one_connection(make_engine, settings, api):
    engine = make_engine({**settings, "connections": 1})
    _, results = send(engine, *[f"message {n}" for n in range(12)])
    assert all(r.ok for r in results)
    assert (len(api.sms), api.connections) == (12, 1)


def test_parallel_connections_stay_within_the_setting(make_engine, settings, api):
    engine = make_engine({**settings, "connections": 3})
    messages, results = send(engine, *[f"message {n}" for n in range(30)])
    assert [r.message_id for r in results] == [m.id for m in messages]
    assert all(r.ok for r in results)
    assert {f["client-ref"] for f in api.sms} == {m.id for m in messages}
    assert 1 <= api.connections <= 3


def test_a_non_json_answer_is_transient(engine, api):
    api.answer_next(200, "<html>maintenance</html>", "text/html")
    _, (result,) = send(engine, "Hi")
    assert (result.outcome, result.info["category"]) == (Outcome.TRANSIENT, "bad-response")
