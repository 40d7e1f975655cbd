"""Events, contacts' choices, email-to-SMS gateways and failover between real providers."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import trustme
from click.testing import CliRunner
from conftest import store_toml
from loopback.certificates import write_ca_file
from loopback.nexmo_api import fake_nexmo
from loopback.smtp import Answer, running_smtp

from postroom import ConfigError, Engine
from postroom.cli import cli
from postroom.notifications import Contact, Event, plan

LONDON = ZoneInfo("Europe/London")
TEMPLATES = Path(__file__).parent / "fixtures" / "templates"
REMINDER = Event(name="reminder", template="reminder", channels=("email",))
CRITICAL = Event(name="closure", template="reminder", channels=("sms",), importance="critical")
GATEWAYS = {"vtext": "vtext.example"}
CONTEXT = {"appointment": datetime(2026, 3, 3, 9, 30, tzinfo=LONDON), "clinic": "North St",
           "office_phone": "01632 960000", "note": "Bring your card."}


def reasons(skipped):
    return [(s.contact.label, s.channel, s.reason) for s in skipped]


# The rules, without a server -----------------------------------------------------------

def test_each_contact_gets_their_own_channels_or_the_events():
    people = [Contact(email="ann@example.org"),
              Contact(email="bo@example.org", phone="07700 900123", channels="both"),
              Contact(phone="07700 900124", channels="sms")]
    deliveries, skipped = plan(REMINDER, people, GATEWAYS, "GB")
    assert [(d.contact.label, d.channel, d.route, d.to) for d in deliveries] == [
        ("ann@example.org", "email", "email", "ann@example.org"),
        ("bo@example.org", "email", "email", "bo@example.org"),
        ("bo@example.org", "sms", "sms", "+447700900123"),
        ("07700 900124", "sms", "sms", "+447700900124")]
    assert skipped == []


def test_people_are_skipped_with_the_reason():
    people = [Contact(id="p1", email="a@example.org", events=["newsletter"]),
              Contact(id="p2", email="b@example.org", opted_out=True),
              Contact(id="p3", phone="07700 900123"),                  # no email address
              Contact(id="p4", phone="12", channels="sms"),             # impossible number
              Contact(id="p5", phone="07700 900125", channels="sms", sms_gateway="nope")]
    deliveries, skipped = plan(REMINDER, people, GATEWAYS, "GB")
    assert deliveries == []
    got = reasons(skipped)
    assert got[:3] == [("p1", None, "not subscribed to this event"), ("p2", None, "opted out"),
                       ("p3", "email", "no email address")]
    assert got[3][:2] == ("p4", "sms") and got[3][2].startswith("invalid number:")
    assert got[4] == ("p5", "sms", "unknown SMS gateway 'nope'; known: vtext")


def test_a_critical_event_reaches_people_who_opted_out_and_says_so():
    people = [Contact(phone="07700 900123", opted_out=True),
              Contact(phone="07700 900124", events=["newsletter"])]
    deliveries, skipped = plan(CRITICAL, people, GATEWAYS, "GB")
    assert skipped == []
    assert [d.note for d in deliveries] == ["critical event: sent although opted out",
                                            "critical event: sent although not subscribed to "
                                            "this event"]


def test_a_gateway_contact_gets_sms_by_email_at_their_national_number():
    person = Contact(phone="(201) 555-0123", channels="sms", sms_gateway="vtext")
    (delivery,), _ = plan(REMINDER, [person], GATEWAYS, "US")
    assert (delivery.channel, delivery.route, delivery.to) == ("sms", "email",
                                                              "2015550123@vtext.example")


# Through the engine, to the file providers ---------------------------------------------

@pytest.fixture
def config(tmp_path, store_settings) -> Path:
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    path = tmp_path / "postroom.toml"
    path.write_text("""
region = "GB"
timezone = "Europe/London"
[templates]
directory = "templates"
max_sms_segments = 2
[gateways]
vtext = "vtext.example"
[events.reminder]
template = "reminder"
channels = ["email", "sms"]
[events.closure]
template = "reminder"
channels = ["sms"]
importance = "critical"
[accounts.mail]
provider = "email_file"
sender = "desk@example.org"
[accounts.mail.schedule]
windows = [{ days = "mon-fri", start = "08:00", end = "17:00" }]
[accounts.texts]
provider = "sms_file"
[accounts.texts.schedule]
windows = [{ days = "mon-fri", start = "08:00", end = "17:00" }]
""" + store_toml(store_settings))
    return path


def engine_at(config: Path, when: datetime) -> Engine:
    return Engine.from_file(config, clock=lambda: when.timestamp())


def sunday_engine(config: Path) -> Engine:
    return engine_at(config, datetime(2026, 11, 29, 12, 0, tzinfo=LONDON))


def test_notify_renders_each_channel_queues_and_logs_who_was_skipped(config):
    engine = sunday_engine(config)
    people = [Contact(id="ann", email="ann@example.org", phone="07700 900123", name="Ann",
                      locale="fr"),
              Contact(id="bo", email="bo@example.org", name="Bo", channels="email"),
              Contact(id="cy", phone="07700 900125", name="Cy", events=["newsletter"])]
    done = engine.notify("reminder", people, CONTEXT)
    assert [(d.contact.label, d.channel, account) for d, account, _ in done.queued] == [
        ("ann", "email", "mail"), ("ann", "sms", "texts"), ("bo", "email", "mail")]
    assert reasons(done.skipped) == [("cy", None, "not subscribed to this event")]
    (entry,) = engine.log(outcome="skipped")
    assert (entry.recipient, entry.summary, entry.text) == (
        "cy", "event reminder", "all channels: not subscribed to this event")
    assert engine.run_worker(once=True, wait=0).sent == 0  # Sunday: outside the windows


def test_a_critical_event_goes_outside_the_window_and_the_log_says_why(config, tmp_path):
    engine = sunday_engine(config)
    done = engine.notify("closure", [Contact(phone="07700 900123", name="Ann",
                                             opted_out=True)], CONTEXT)
    assert engine.run_worker(once=True, wait=0).sent == 1
    (_, _, message_id), = done.queued
    override, sent = sorted(engine.log(message_id=message_id), key=lambda e: e.outcome)[::-1]
    assert (override.outcome, override.text) == ("override",
                                                 "critical event: sent although opted out")
    assert sent.outcome == "accepted"
    assert "+447700900123" in (tmp_path / "outbox" / "sms.jsonl").read_text()


def test_gateway_sms_travel_as_email_with_the_sms_text(config, tmp_path):
    engine = engine_at(config, datetime(2026, 11, 23, 10, 0, tzinfo=LONDON))
    person = Contact(phone="07700 900123", name="Ann", channels="sms", sms_gateway="vtext")
    (delivery, account, _), = engine.notify("reminder", [person], CONTEXT).queued
    assert (account, delivery.to) == ("mail", "7700900123@vtext.example")
    engine.run_worker(once=True, wait=0, accounts=["mail"])
    (eml,) = (tmp_path / "outbox" / "email").glob("*.eml")
    raw = eml.read_bytes().decode()
    assert "To: 7700900123@vtext.example" in raw
    assert "Hi Ann, see you 03/03 at 09:30 at North St." in raw
    long_note = {**CONTEXT, "note": "x" * 400}
    done = engine.notify("reminder", [person], long_note)
    assert done.queued == []
    assert "more than the 2 a gateway message may be" in done.skipped[0].reason


def test_a_repeated_notify_with_a_key_queues_nothing_new(config):
    engine = Engine.from_file(config)
    person = Contact(id="ann", email="ann@example.org", phone="07700 900123", name="Ann")
    first = engine.notify("reminder", [person], CONTEXT, key="appt-42")
    again = engine.notify("reminder", [person], CONTEXT, key="appt-42")
    assert [mid for *_, mid in again.queued] == [mid for *_, mid in first.queued]
    assert sum(row.waiting + row.scheduled for row in engine.queue()) == 2


def test_unknown_events_and_events_registered_in_code(config):
    engine = Engine.from_file(config)
    with pytest.raises(ConfigError, match="no event named 'remindr'; declared events: "
                                          "closure, reminder"):
        engine.notify("remindr", ["ann@example.org"])
    engine.register_event(Event(name="report", template="report_attached"))
    done = engine.notify("report", [Contact(email="head@example.org", name="Head")],
                         {"clinic": "North St"})
    assert len(done.queued) == 1


def test_validate_checks_each_events_template_has_its_channels_parts(config, tmp_path):
    engine = Engine.from_file(config)
    assert [p for _, p in engine.validate() if p.severity == "error"] == []
    engine.register_event(Event(name="report", template="report_attached", channels="sms"))
    errors = [(where, p.field) for where, p in engine.validate() if p.severity == "error"]
    assert errors == [("events.report", "report_attached")]


def test_notify_from_the_cli(config, monkeypatch):
    monkeypatch.chdir(config.parent)
    args = ["notify", "closure", "--to", "07700 900123", "--to", "ann@example.org",
            "--var", "clinic=North St", "--var", "appointment=2026-03-03T09:30+00:00",
            "--var", "note=x", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2  # the SMS part needs recipient.name, which --to cannot give
    assert "(sms part), line 1" in result.output
    assert "'name'" in result.output
    (config.parent / "templates" / "reminder" / "sms.txt").write_text("Closed today: {{ note }}")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["to"], r["outcome"]) for r in rows] == [
        ("+447700900123", "accepted"), ("ann@example.org", "skipped")]
    assert rows[1]["reason"] == "no phone number"


# Failover between two real providers --------------------------------------------------

def failover_engine(tmp_path, store, primary, backup, **delivery) -> Engine:
    shutil.copytree(TEMPLATES, tmp_path / "templates", dirs_exist_ok=True)
    data = {
        "store": store,
        "templates": {"directory": "templates"},
        "channels": {"email": ["primary", "backup"]},
        "delivery": {"cooldown": 600, "backoff": 1, **delivery},
        "events": {"report": {"template": "report_attached"}},
        "accounts": {
            "primary": {"provider": "smtp", "host": primary.host, "port": primary.port,
                        "security": "none", "sender_email": "desk@example.org", "timeout": 5},
            "backup": {"provider": "smtp", "host": backup.host, "port": backup.port,
                       "security": "none", "sender_email": "desk@example.org", "timeout": 5}}}
    return Engine.from_dict(data, base_dir=tmp_path, environ={})


def refuse_all(command):
    return Answer("451 4.3.0 Mail system temporarily unavailable") \
        if command.name == "MAIL" else None


def test_a_failing_account_hands_its_messages_to_the_next_and_cools_down(tmp_path,
                                                                         store_settings):
    clock = [datetime(2026, 11, 23, 10, 0, tzinfo=LONDON).timestamp()]
    with running_smtp(faults=[refuse_all]) as primary, running_smtp() as backup:
        engine = failover_engine(tmp_path, store_settings, primary, backup)
        engine.clock = lambda: clock[0]
        people = [Contact(email=f"p{i}@example.org", name=f"P{i}") for i in range(3)]
        done = engine.notify("report", people, {"clinic": "North St"})
        assert {account for _, account, _ in done.queued} == {"primary"}
        engine.run_worker(once=True, wait=0)
        assert len(primary.received) == 0
        assert sorted(r.recipients[0] for r in backup.received) == [
            "p0@example.org", "p1@example.org", "p2@example.org"]
        (pause,) = engine.store.pauses(clock[0]).values()
        assert pause.account == "primary"
        # While primary cools down, new messages start on the backup.
        later = engine.notify("report", [Contact(email="q@example.org", name="Q")],
                              {"clinic": "North St"})
        assert [account for _, account, _ in later.queued] == ["backup"]
        # After the cool-down primary is first again.
        clock[0] += 601
        again = engine.notify("report", [Contact(email="r@example.org", name="R")],
                              {"clinic": "North St"})
        assert [account for _, account, _ in again.queued] == ["primary"]
        tries = [(e.account, e.outcome) for e in reversed(engine.log(recipient="p0@"))]
        assert tries == [("primary", "transient"), ("backup", "accepted")]


def test_an_account_out_of_credit_fails_over_and_email_is_not_sent_twice(tmp_path,
                                                                          store_settings):
    ca = trustme.CA()
    ca_file = write_ca_file(ca, tmp_path / "ca.pem")
    with fake_nexmo(ca, api_secret="one") as poor, fake_nexmo(ca, api_secret="two") as rich, \
            running_smtp() as smtp:
        poor.reject("447700900123", "9")  # partner quota: out of credit
        shutil.copytree(TEMPLATES, tmp_path / "templates")
        (tmp_path / "templates" / "reminder" / "sms.txt").write_text("Closed: {{ note }}")
        nexmo = {"provider": "nexmo", "sender": "Clinic", "ca_bundle": str(ca_file),
                 "rate_per_second": 1000, "timeout": 5}
        engine = Engine.from_dict({
            "region": "GB",
            "store": store_settings,
            "templates": {"directory": "templates"},
            "channels": {"sms": ["texts", "spare"]},
            "events": {"closure": {"template": "reminder", "channels": ["email", "sms"],
                                   "importance": "critical"}},
            "accounts": {
                "texts": {**nexmo, "api_key": poor.api_key, "api_secret": "one",
                          "base_url": poor.url},
                "spare": {**nexmo, "api_key": rich.api_key, "api_secret": "two",
                          "base_url": rich.url},
                "mail": {"provider": "smtp", "host": smtp.host, "port": smtp.port,
                         "security": "none", "sender_email": "desk@example.org"}}},
            base_dir=tmp_path, environ={})
        person = Contact(email="ann@example.org", phone="07700 900123", name="Ann")
        engine.notify("closure", [person], {**CONTEXT, "note": "snow"})
        engine.run_worker(once=True, wait=0)
        engine.run_worker(once=True, wait=0)
        assert [m["to"] for m in rich.sms] == ["447700900123"]
        assert len(smtp.received) == 1  # the SMS failover did not send the email again
        paused = engine.store.pauses(engine.clock())
        assert paused["texts"].reason.startswith("account_stopped")
        outcomes = [(e.account, e.outcome) for e in reversed(engine.log())
                    if e.recipient == "+447700900123"]
        assert outcomes == [("texts", "account_stopped"), ("spare", "accepted")]
