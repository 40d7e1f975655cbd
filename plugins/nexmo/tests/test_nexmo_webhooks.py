"""Receipts, replies and STOP through postroom's webhook app, posted over real HTTP."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys

import pytest
import requests
from loopback.webhooks import serve_asgi, serve_webhooks

from postroom_nexmo.signing import sign

SIGNATURE = "hook-signing-secret"
NUMBER = "+447700900123"


@pytest.fixture
def engine(make_engine, settings, api):
    """An account whose webhooks are signed (sha256), as the dashboard can be set."""
    api.signature_secret, api.signature_method = SIGNATURE, "sha256"
    return make_engine({**settings, "signature_secret": SIGNATURE,
                        "signature_method": "sha256"})


@pytest.fixture
def app(engine):
    with serve_webhooks(engine) as base:
        yield f"{base}/texts/"


def signed(params: dict) -> dict:
    return sign({**params, "nonce": "4c7d2e"}, SIGNATURE, "sha256")


def receipt(api, message_id: str, provider_id: str, status: str = "delivered",
            error: str = "0") -> dict:
    """A delivery receipt as the API posts it."""
    return {"msisdn": NUMBER[1:], "to": "Clinic", "network-code": "23410",
            "messageId": provider_id, "price": "0.03330000", "status": status,
            "scts": "2601151310", "err-code": error, "api-key": api.api_key,
            "client-ref": message_id, "message-timestamp": "2026-01-15 13:10:29"}


def inbound(api, text: str, provider_id: str = "0A00000012345678",
            at: str = "2026-01-15 13:20:00") -> dict:
    """An inbound message as the API posts it."""
    return {"msisdn": NUMBER[1:], "to": "447700900000", "messageId": provider_id, "text": text,
            "type": "text", "keyword": text.split()[0].upper() if text.split() else "",
            "api-key": api.api_key, "message-timestamp": at}


def sent(engine, text: str = "See you at 9") -> tuple[str, str]:
    """Send one message through the fake API; its postroom id and provider id."""
    (message_id,) = engine.send("texts", to=NUMBER, text=text)
    assert engine.run_worker(once=True).sent == 1
    (entry,) = engine.log(message_id=message_id)
    return message_id, entry.provider_id


def test_a_receipt_marks_the_message_delivered_in_the_outbox_and_the_log(engine, api, app):
    message_id, provider_id = sent(engine)
    answer = requests.post(app, data=signed(receipt(api, message_id, provider_id)), timeout=5)
    assert answer.status_code == 204
    assert engine.store.find(message_id).report == "delivered"
    report, _ = engine.log(message_id=message_id)
    assert (report.outcome, report.cost, report.currency) == ("delivered", "0.03330000", "EUR")
    assert (report.provider_id, report.recipient) == (provider_id, NUMBER)
    assert report.info == {"report": "delivery", "network": "23410", "sender": "Clinic"}


def test_a_failed_receipt_says_why_and_a_late_pending_one_does_not_undo_it(engine, api, app):
    message_id, provider_id = sent(engine)
    failed = signed(receipt(api, message_id, provider_id, "failed", "6"))
    pending = signed(receipt(api, message_id, provider_id, "buffered"))
    assert requests.post(app, json=failed, timeout=5).status_code == 204
    assert requests.get(app, params=pending, timeout=5).status_code == 204
    assert engine.store.find(message_id).report == "failed"
    late, report, _ = engine.log(message_id=message_id)
    assert (report.outcome, report.code, report.text) == ("failed", "6",
                                                          "failed; anti-spam rejection")
    assert late.outcome == "pending"


def test_stop_stops_the_next_send_everywhere_and_start_opens_it_again(engine, api, app,
                                                                       make_engine, settings):
    message_id, _ = sent(engine)
    stop = signed(inbound(api, "Stop."))
    assert requests.post(app, data=stop, timeout=5).status_code == 204
    (entry,) = engine.inbox()
    assert (entry.kind, entry.sender, entry.message_id) == ("opt_out", NUMBER, message_id)
    # Another process on the same store (a worker on another host) sees it too.
    assert make_engine(settings).opted_out("texts", NUMBER).keyword == "STOP"
    requests_before = len(api.sms)
    (skipped_id,) = engine.send("texts", to=NUMBER, text="Your results are in")
    engine.run_worker(once=True)
    assert len(api.sms) == requests_before  # nothing went to the provider
    (skip,) = engine.log(message_id=skipped_id)
    assert skip.outcome == "skipped"
    assert "opted out of sms messages on 2026-01-15 13:20 UTC (STOP to account texts)" in \
        skip.text
    start = signed(inbound(api, "START", "0A00000012345679", "2026-01-15 14:00:00"))
    assert requests.post(app, data=start, timeout=5).status_code == 204
    assert engine.opted_out("texts", NUMBER) is None
    sent(engine, "Your results are in")


def test_an_old_stop_arriving_late_does_not_undo_a_later_start(engine, api, app):
    start = signed(inbound(api, "start", "0A00000000000002", "2026-01-15 14:00:00"))
    stop = signed(inbound(api, "STOP", "0A00000000000001", "2026-01-15 13:00:00"))
    for call in (start, stop):
        assert requests.post(app, data=call, timeout=5).status_code == 204
    assert engine.opted_out("texts", NUMBER) is None
    assert [e.kind for e in engine.inbox()] == ["opt_out", "opt_in"]


def test_a_reply_goes_to_the_inbox_and_the_callbacks_once(engine, api, app):
    message_id, _ = sent(engine)
    seen = []
    engine.on_inbound(seen.append)
    call = signed(inbound(api, "Can we make it 10 instead?"))
    assert requests.post(app, data=call, timeout=5).status_code == 204
    assert requests.post(app, data=call, timeout=5).status_code == 204  # the API retried
    (entry,) = engine.inbox(kind="reply")
    assert (entry.text, entry.recipient, entry.message_id, entry.channel) == (
        "Can we make it 10 instead?", "+447700900000", message_id, "sms")
    assert entry.received == 1768483200.0  # 2026-01-15 13:20:00 UTC
    assert [(a.kind, a.message_id, a.recorded) for a in seen] == [
        ("reply", message_id, True), ("reply", message_id, False)]
    assert engine.opted_out("texts", NUMBER) is None


def test_forged_and_unsigned_calls_are_refused_logged_and_not_recorded(engine, api, app,
                                                                       caplog):
    message_id, provider_id = sent(engine)
    forged = {**signed(receipt(api, message_id, provider_id)), "status": "failed"}
    unsigned = inbound(api, "STOP")
    other_key = signed({**inbound(api, "STOP"), "api-key": "someone-else"})
    caplog.set_level(logging.WARNING, "postroom.webhooks")
    answers = [requests.post(app, data=forged, timeout=5),
               requests.post(app, data=unsigned, timeout=5),
               requests.post(app, data=other_key, timeout=5)]
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert "signature does not match" in answers[0].text
    assert "not signed" in answers[1].text
    assert "someone-else" in answers[2].text
    assert engine.inbox() == [] and engine.opted_out("texts", NUMBER) is None
    assert [e.outcome for e in engine.log(message_id=message_id)] == ["accepted"]
    assert engine.store.find(message_id).report is None
    assert caplog.text.count("refused a webhook call for account texts (POST / from 127.0.0.1)"
                             ) == 3
    assert SIGNATURE not in caplog.text + "".join(a.text for a in answers)


def test_an_account_with_no_way_to_check_calls_refuses_them_all(make_engine, settings, api):
    engine = make_engine(settings)
    with serve_webhooks(engine) as base:
        answer = requests.post(f"{base}/texts/", data=inbound(api, "STOP"), timeout=5)
    assert answer.status_code == 403
    assert "has no webhook_secret" in answer.text
    assert engine.inbox() == []


def test_without_signing_a_webhook_secret_in_the_address_proves_the_caller(make_engine,
                                                                           settings, api):
    engine = make_engine({**settings, "webhook_secret": "only-we-know"})
    with serve_webhooks(engine) as base:
        token = requests.post(f"{base}/texts/?token=only-we-know", data=inbound(api, "Hi"),
                              timeout=5)
        basic = requests.get(f"{base}/texts/", params=inbound(api, "Hi again", "0A02"),
                             auth=("postroom", "only-we-know"), timeout=5)
        wrong = requests.post(f"{base}/texts/?token=guess", data=inbound(api, "STOP", "0A03"),
                              timeout=5)
    assert [token.status_code, basic.status_code, wrong.status_code] == [204, 204, 403]
    assert "does not match the account's webhook_secret" in wrong.text
    assert [e.text for e in engine.inbox()] == ["Hi again", "Hi"]


def test_the_app_answers_404_405_and_400_for_calls_it_cannot_route(engine, api, app):
    base = app.removesuffix("/texts/")
    assert requests.post(f"{base}/nobody/", data={}, timeout=5).status_code == 404
    assert requests.post(f"{base}/", data={}, timeout=5).status_code == 404
    assert requests.put(app, data={}, timeout=5).status_code == 405
    garbage = requests.post(app, data=b"{not json", timeout=5,
                            headers={"Content-Type": "application/json"})
    assert (garbage.status_code, garbage.text) == (400, "the body is not valid JSON\n")
    neither = requests.post(app, data=signed({"api-key": api.api_key, "hello": "world"}),
                            timeout=5)
    assert neither.status_code == 400


def test_the_asgi_app_takes_the_same_calls(engine, api):
    message_id, provider_id = sent(engine)
    with serve_asgi(engine) as base:
        answer = requests.post(f"{base}/texts/receipts", json=signed(
            receipt(api, message_id, provider_id)), timeout=5)
        forged = requests.post(f"{base}/texts/", data={**signed(inbound(api, "STOP")),
                                                       "text": "START"}, timeout=5)
        too_big = requests.post(f"{base}/texts/", data=b"x" * (2 * 1024 * 1024), timeout=5)
    assert (answer.status_code, forged.status_code, too_big.status_code) == (204, 403, 413)
    assert engine.store.find(message_id).report == "delivered"
    assert engine.inbox() == []


def test_postroom_webhooks_serve_and_postroom_inbox(settings, api, tmp_path):
    """The stand-alone server as its own process, then the inbox and a send from the CLI."""
    api.signature_secret, api.signature_method = SIGNATURE, "sha256"
    config = tmp_path / "postroom.toml"
    lines = ['region = "GB"', "[accounts.texts]"] + [
        f"{key} = {json.dumps(value)}" for key, value in
        {**settings, "signature_secret": SIGNATURE, "signature_method": "sha256"}.items()]
    config.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "POSTROOM_CONFIG": str(config)}
    postroom = [sys.executable, "-m", "postroom"]
    server = subprocess.Popen([*postroom, "webhooks", "serve", "--port", "0", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        started = json.loads("".join(iter(server.stdout.readline, "}\n")) + "}")
        assert started["accounts"] == ["texts"]
        url = started["url"].replace("ACCOUNT", "texts")
        assert requests.post(url, data=signed(inbound(api, "STOP")), timeout=5
                             ).status_code == 204
        assert requests.post(url, data=inbound(api, "STOP"), timeout=5).status_code == 403
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=10)
    assert server.returncode == 0
    assert "refused a webhook call for account texts" in errors
    assert SIGNATURE not in errors

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*postroom, *args], capture_output=True, text=True, env=env,
                              timeout=60)

    shown = run("inbox", "--json")
    (entry,) = json.loads(shown.stdout)
    assert (entry["kind"], entry["sender"], entry["text"]) == ("opt_out", NUMBER, "STOP")
    assert NUMBER in run("inbox", "opted-out").stdout
    refused = run("send", "-a", "texts", "--to", "07700 900123", "--text", "Hello")
    assert refused.returncode == 1
    assert "skipped: +447700900123" in refused.stdout and "opted out" in refused.stdout
