"""The receive path in the core: routing, refusals, recording, callbacks, opt-outs.

The echo test provider reads webhook calls (a JSON object, its api_secret as
``?token=``); the plugins' own tests post their providers' real shapes.
"""

from __future__ import annotations

import json
import logging

import pytest
import requests
from loopback.webhooks import serve_webhooks

from postroom import Engine, MessageError, Secret, hookimpl
from postroom.inbound import Keywords, Received, keyword
from postroom.notifications import Contact
from postroom.store import OptOut
from postroom.webhooks import WebhookRequest, shared_secret_problem


@pytest.fixture
def engine(registry, echo_settings, tmp_path, store_settings) -> Engine:
    """An engine on each store in turn."""
    return Engine.from_dict({"store": store_settings,
                             "accounts": {"desk": echo_settings,
                                          "texts": {"provider": "sms_file"}}},
                            registry=registry, environ={"ECHO_SECRET": "right"},
                            base_dir=tmp_path)


@pytest.fixture
def app(engine):
    with serve_webhooks(engine) as base:
        yield base


def call(base: str, account: str = "desk", token: str = "right", **data) -> requests.Response:
    return requests.post(f"{base}/{account}/?token={token}", json=data, timeout=5)


def sent(engine: Engine, to: str = "ann@example.org") -> tuple[str, str]:
    (message_id,) = engine.send("desk", to=to, subject="Reminder", text="See you at 9")
    engine.run_worker(once=True)
    return message_id, engine.log(message_id=message_id)[0].provider_id


def test_a_report_found_by_postroom_id_or_provider_id_updates_the_message(engine, app):
    first, _ = sent(engine)
    second, provider_id = sent(engine, "bo@example.org")
    answer = call(app, reports=[{"id": first, "state": "delivered"},
                                {"provider_id": provider_id, "state": "failed",
                                 "reason": "mailbox full"}])
    assert (answer.status_code, answer.text) == (200, "thanks")
    assert engine.store.find(first).report == "delivered"
    assert engine.store.find(second).report == "failed"
    assert engine.log(message_id=second)[0].text == "mailbox full"


def test_a_report_on_no_message_of_ours_is_taken_but_not_recorded(engine, app, caplog):
    seen = []
    engine.on_inbound(seen.append)
    assert call(app, reports=[{"id": "not-ours", "state": "delivered"}]).status_code == 200
    assert [(a.kind, a.recorded) for a in seen] == [("report", False)]
    assert engine.log() == []
    assert "a message this outbox does not know" in caplog.text


def test_refusals_unknown_accounts_and_providers_without_webhooks(engine, app, caplog):
    caplog.set_level(logging.WARNING, "postroom.webhooks")
    refused = call(app, token="wrong", replies=[{"from": "x@example.org", "text": "STOP"}])
    assert refused.status_code == 403
    assert "does not match the account's api_secret" in refused.text
    assert "refused a webhook call for account desk (POST / from 127.0.0.1)" in caplog.text
    assert call(app, account="nobody").status_code == 404
    no_hooks = call(app, account="texts")
    assert (no_hooks.status_code, no_hooks.text) == (
        404, "account 'texts' (sms_file) takes no webhooks\n")
    assert engine.inbox() == []


def test_a_plugin_that_fails_or_answers_nonsense_gets_500_and_a_log_line(engine, app, caplog,
                                                                         echo, monkeypatch):
    crashed = call(app, crash=True)
    assert crashed.status_code == 500
    assert "the echo plugin failed reading a webhook call for account desk" in caplog.text
    monkeypatch.setattr(echo, "postroom_receive", hookimpl(
        lambda config, request: Received.accept(["not an event"])))
    engine.registry.pm.unregister(echo)
    engine.registry.pm.register(echo)
    nonsense = call(app)
    assert nonsense.status_code == 500
    assert "answered a webhook call for account desk with something other than events" in \
        caplog.text


def test_a_store_that_fails_answers_500_so_the_provider_calls_again(engine, app, caplog,
                                                                   monkeypatch):
    def broken(entry):
        raise OSError("disk full")

    monkeypatch.setattr(engine.store, "add_inbox", broken)
    answer = call(app, replies=[{"from": "ann@example.org", "text": "Hello"}])
    assert answer.status_code == 500
    assert "could not record a webhook call for account desk" in caplog.text


def test_a_failing_callback_does_not_fail_the_call(engine, app, caplog):
    @engine.on_inbound
    def broken(arrival):
        raise RuntimeError("the app's handler broke")

    answer = call(app, replies=[{"from": "ann@example.org", "text": "Hello", "id": "r1"}])
    assert answer.status_code == 200
    assert [e.text for e in engine.inbox()] == ["Hello"]
    assert "an on_inbound callback failed for a reply of account desk" in caplog.text


def test_a_provider_opt_out_skips_later_sends_and_notify_unless_critical(engine, app):
    answer = call(app, opt_outs=[{"number": "ann@example.org", "out": True}])
    assert answer.status_code == 200
    (entry,) = engine.inbox(kind="opt_out")
    assert entry.text == "the provider reports an opt-out"
    ids = engine.send("desk", to="ann@example.org", subject="News", text="...")
    (skip,) = engine.log(message_id=ids[0])
    assert skip.outcome == "skipped"
    assert "reported by account desk's provider" in skip.text
    assert engine.store.find(ids[0]) is None  # never queued


def test_a_critical_event_reaches_an_opted_out_address_and_the_log_says_so(
        registry, echo_settings, tmp_path):
    folder = tmp_path / "templates" / "closed"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("Clinic closed")
    (folder / "text.txt").write_text("The clinic is closed today.")
    engine = Engine.from_dict({
        "accounts": {"desk": echo_settings}, "templates": {"directory": "templates"},
        "events": {"closed": {"template": "closed", "importance": "critical"},
                   "news": {"template": "closed"}}},
        registry=registry, environ={"ECHO_SECRET": "right"}, base_dir=tmp_path)
    engine.store.set_opt_out(OptOut("email", "ann@example.org", True, 1.0, "desk", "STOP"))
    news = engine.notify("news", [Contact(email="ann@example.org")])
    assert news.queued == [] and "opted out of email messages" in news.skipped[0].reason
    (queued,) = engine.notify("closed", [Contact(email="ann@example.org")]).queued
    (override,) = engine.log(outcome="override")
    assert override.message_id == queued[2]
    assert override.text.startswith("critical event: sent although ann@example.org opted out")


def test_send_keeps_the_order_of_ids_when_some_are_skipped(engine):
    engine.store.set_opt_out(OptOut("email", "bo@example.org", True, 1.0, "desk", "STOP"))
    messages = [engine.message("desk", to=to, subject="s", text="t")
                for to in ("ann@example.org", "bo@example.org", "cy@example.org")]
    ids = engine.send("desk", *messages)
    assert ids == [m.id for m in messages]
    assert [engine.store.find(i) is not None for i in ids] == [True, False, True]


def test_the_webhook_app_as_wsgi_takes_an_encoded_account_and_limits_the_body(engine):
    from postroom.webhooks import WebhookApp

    webhooks = WebhookApp(engine, max_body=100)
    answer = webhooks.answer("POST", "/d%65sk/anything", {"Content-Type": "application/json"},
                             "token=right", json.dumps({"replies": []}).encode(), "127.0.0.1")
    assert answer.status == 200
    assert webhooks.too_big(101).status == 413
    assert webhooks.answer("DELETE", "/desk/", {}, "", b"", None).status == 405


def test_a_shared_secret_is_found_in_basic_bearer_or_token_and_never_quoted():
    secret = Secret("s3cr3t")
    basic = WebhookRequest(method="POST", headers={"Authorization": "Basic dXNlcjpzM2NyM3Q="})
    bearer = WebhookRequest(method="POST", headers={"authorization": "Bearer s3cr3t"})
    token = WebhookRequest(method="GET", query={"token": "s3cr3t"})
    wrong = WebhookRequest(method="GET", query={"token": "s3cr3"})
    assert [shared_secret_problem(r, secret) for r in (basic, bearer, token)] == [None] * 3
    assert "does not match" in shared_secret_problem(wrong, secret)
    assert "has no webhook_secret" in shared_secret_problem(token, None)
    assert "s3cr3t" not in shared_secret_problem(wrong, secret)


@pytest.mark.parametrize(("text", "expected"), [
    ("STOP", (True, "STOP")), (" stop. ", (True, "STOP")), ("Unsubscribe!", (True, "UNSUBSCRIBE")),
    ("start", (False, "START")), ("Yes", (False, "YES")), ("please stop", None), ("", None),
    ("stopping", None)])
def test_keywords_are_the_whole_message_in_any_case(text, expected):
    assert keyword(text, Keywords()) == expected


def test_keywords_are_configured_per_account(registry, tmp_path):
    engine = Engine.from_dict({"accounts": {"fr": {
        "provider": "sms_file", "keywords": {"opt_out": ["arret", "stop"], "opt_in": ["oui"]}}}},
        registry=registry, base_dir=tmp_path)
    words = engine.account("fr").keywords
    assert (keyword("Arrêt", words), keyword("ARRET", words), keyword("oui", words),
            keyword("START", words)) == (None, (True, "ARRET"), (False, "OUI"), None)


def test_record_report_is_deprecated_but_still_records(engine):
    message_id, _ = sent(engine)
    with pytest.deprecated_call():
        arrival = engine.record_report(message_id, "expired", text="too late")
    assert arrival.event.state == "failed"
    assert engine.store.find(message_id).report == "failed"
    with pytest.deprecated_call(), pytest.raises(MessageError, match="no message 'nope'"):
        engine.record_report("nope", "delivered")
