"""Status reports, replies and STOP from the gateway's webhooks, posted over real HTTP."""

from __future__ import annotations

import pytest
import requests
from loopback.webhooks import serve_webhooks

TOKEN = "a-secret-of-our-own"
NUMBER = "+447700900123"


@pytest.fixture
def engine(make_engine, settings):
    return make_engine({**settings, "webhook_secret": TOKEN})


@pytest.fixture
def app(engine):
    with serve_webhooks(engine) as base:
        yield f"{base}/texts/?token={TOKEN}"


def post(url: str, event: str, items: list[dict]) -> requests.Response:
    """Post as the gateway does: a JSON array, the event in a header."""
    return requests.post(url, json=items, timeout=5,
                         headers={"X-BulkSMS-Event": event, "X-BulkSMS-Delivery-Attempt": "1",
                                  "User-Agent": "BulkSMS Invoker"})


def status_report(provider_id: str, kind: str, subtype: str | None = None) -> dict:
    """A sent message's new status, shaped as the gateway's message objects are."""
    return {"id": provider_id, "type": "SENT", "from": "Clinic", "to": NUMBER,
            "body": "See you at 9", "encoding": "TEXT", "numberOfParts": 1, "creditCost": 1,
            "submission": {"id": "1-0000000052234756", "date": "2026-01-15T13:10:00Z"},
            "status": {"id": f"{kind}.{subtype}", "type": kind, "subtype": subtype},
            "relatedSentMessageId": None, "userSuppliedId": None}


def received(text: str, provider_id: str = "4023457999", related: str | None = None) -> dict:
    """A text sent to the account's number, in the newer shape of the webhook pages."""
    return {"id": provider_id, "type": "RECEIVED",
            "from": {"type": "INTERNATIONAL", "address": NUMBER},
            "to": {"type": "INTERNATIONAL", "address": "+447700900000"},
            "body": {"value": text, "encoding": {"type": "TEXT"}},
            "status": {"condition": "RECEIVED", "date": "2026-01-15T13:20:00Z", "final": True},
            "relatedSentMessageId": related}


def sent(engine, *numbers: str) -> list[tuple[str, str]]:
    """Send to ``numbers`` through the fake gateway: (postroom id, gateway id) each."""
    ids = engine.send("texts", *[engine.message("texts", to=n, text="See you at 9")
                                 for n in numbers])
    assert engine.run_worker(once=True).sent == len(numbers)
    return [(mid, engine.log(message_id=mid)[0].provider_id) for mid in ids]


def test_status_reports_in_one_call_update_each_message(engine, app):
    (first, first_gw), (second, second_gw) = sent(engine, NUMBER, "+447700900124")
    answer = post(app, "status-report", [status_report(first_gw, "DELIVERED"),
                                         status_report(second_gw, "FAILED", "EXPIRED")])
    assert answer.status_code == 204
    assert [engine.store.find(m).report for m in (first, second)] == ["delivered", "failed"]
    delivered = engine.log(message_id=first)[0]
    assert (delivered.outcome, delivered.cost, delivered.currency) == ("delivered", "1",
                                                                       "credits")
    expired = engine.log(message_id=second)[0]
    assert (expired.outcome, expired.text) == ("failed", "FAILED.EXPIRED; expired")
    assert "could not deliver it in time" in expired.info["hint"]


def test_a_stop_reply_stops_the_next_send_and_a_reply_finds_its_message(engine, gateway,
                                                                         app):
    ((message_id, gateway_id),) = sent(engine, NUMBER)
    answer = post(app, "incoming-message", [received("Thanks, see you", related=gateway_id),
                                            received("STOP", "4023458000")])
    assert answer.status_code == 204
    stop, reply = engine.inbox()
    assert (reply.kind, reply.message_id, reply.sender) == ("reply", message_id, NUMBER)
    assert (stop.kind, stop.text) == ("opt_out", "STOP")
    posts = len(gateway.submissions)
    (skipped,) = engine.send("texts", to=NUMBER, text="Reminder")
    assert engine.run_worker(once=True).sent == 0
    assert len(gateway.submissions) == posts
    assert engine.log(message_id=skipped)[0].outcome == "skipped"


def test_calls_without_the_secret_are_refused_and_not_recorded(engine, app):
    ((message_id, gateway_id),) = sent(engine, NUMBER)
    base = app.split("?")[0]
    missing = post(base, "incoming-message", [received("STOP")])
    wrong = post(base + "?token=guessed", "status-report", [status_report(gateway_id, "FAILED",
                                                                          "BLOCKED")])
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert "carries no secret" in missing.text
    assert engine.inbox() == [] and engine.store.find(message_id).report is None
    assert engine.opted_out("texts", NUMBER) is None


def test_an_account_without_a_webhook_secret_takes_no_calls(make_engine, settings):
    engine = make_engine(settings)
    with serve_webhooks(engine) as base:
        answer = post(f"{base}/texts/?token=anything", "incoming-message", [received("STOP")])
    assert answer.status_code == 403
    assert "has no webhook_secret" in answer.text


def test_calls_that_are_not_the_gateways_are_refused(engine, app):
    assert post(app, "incoming-message", [42]).status_code == 400
    unknown = post(app, "something-else", [{"id": "1", "type": "NEW"}])
    assert (unknown.status_code, "neither a received message" in unknown.text) == (400, True)
