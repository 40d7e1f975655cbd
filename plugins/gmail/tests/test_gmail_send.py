"""Sending through Gmail: both ports, both logins, the recipient cap and the daily quota."""

from __future__ import annotations

import time

import pytest
from loopback.gmail import DailyQuota
from loopback.smtp import Answer, ForAddress

from postroom import EmailMessage, Outcome

ADDRESS = "ann.lee@gmail.com"
A_DAY = 24 * 3600  # Gmail counts its quota over a rolling 24 hours


@pytest.mark.parametrize("login", ["oauth2", "app_password"])
@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_both_ports_and_both_logins(gmail_server, engine, messages, login, security):
    server = gmail_server(security=security, require_starttls=security == "starttls")

    results = engine(server, login=login, security=security).deliver("g", messages(2))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2
    logged_in = server.handler.oauth_logins if login == "oauth2" else server.logins
    assert logged_in == [ADDRESS]
    assert [r.message()["From"] for r in server.received] == [ADDRESS] * 2


def test_an_app_password_pasted_with_spaces_logs_in(gmail, engine, messages):
    results = engine(gmail, login="app_password",
                     app_password="qzvx kwht jmbr plfd").deliver("g", messages(1))

    assert results[0].ok, results
    assert gmail.logins == [ADDRESS]


def test_the_sender_name_and_reply_to(gmail, engine, messages):
    engine(gmail, sender_name="Ann at the Clinic", reply_to="desk@clinic.example").deliver(
        "g", messages(1))

    mime = gmail.received[0].message()
    assert (mime["From"], mime["Reply-To"]) == (f"Ann at the Clinic <{ADDRESS}>",
                                                "desk@clinic.example")


def test_a_message_with_too_many_recipients_is_refused_alone(gmail, engine, messages):
    crowd = [f"guest{i}@example.org" for i in range(101)]
    batch = [*messages(1), EmailMessage(to=crowd[:60], cc=crowd[60:], subject="party",
                                          text="Come along."),
             *messages(1)]

    results = engine(gmail).deliver("g", batch)

    assert [r.message_id for r in results] == [m.id for m in batch]
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.PERMANENT,
                                            Outcome.ACCEPTED]
    assert results[1].text.startswith("101 recipients (To, Cc and Bcc together), more than "
                                      "the 100 one Gmail message may have (max_recipients)")
    assert [r.message()["Subject"] for r in gmail.received] == ["message 0", "message 0"]


def test_the_recipient_cap_counts_each_address_once(gmail, engine):
    message = EmailMessage(to=["a@example.org", "b@example.org"], cc="a@example.org",
                           bcc=["c@example.org", "b@example.org"], subject="three people",
                           text="Hello.")

    lowered = engine(gmail, max_recipients=3).deliver("g", [message])
    lower_still = engine(gmail, max_recipients=2).deliver("g", [message])

    assert lowered[0].ok, lowered
    assert lower_still[0].outcome is Outcome.PERMANENT
    assert lower_still[0].text.startswith("3 recipients")


@pytest.mark.parametrize("command", ["MAIL", "DATA"])
def test_the_quota_pauses_the_account_instead_of_failing_messages(gmail_server, engine,
                                                                  messages, command):
    server = gmail_server(faults=[DailyQuota(2, command)])

    results = engine(server).deliver("g", messages(4))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2 + [
        Outcome.ACCOUNT_STOPPED] * 2
    stopped = results[2]
    assert (stopped.code, stopped.retry_after) == ("550", A_DAY)
    assert stopped.text.startswith("5.4.5 Daily user sending limit exceeded")
    assert "postroom pauses it for 24 hours" in stopped.text


def test_a_refused_address_is_still_a_permanent_failure(gmail_server, engine, messages):
    unknown = Answer("550-5.1.1 The email account that you tried to reach does not exist.\r\n"
                     "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser x1 - gsmtp")
    server = gmail_server(faults=[ForAddress("RCPT", "gone@example.org", unknown)])

    [result] = engine(server).deliver("g", messages(1, to="gone@example.org"))

    assert (result.outcome, result.code, result.retry_after) == (Outcome.PERMANENT, "550", None)


def test_the_worker_waits_a_day_when_the_quota_is_used_up(gmail_server, engine):
    server = gmail_server(faults=[DailyQuota(1)])
    account = engine(server)
    account.send("g", *[EmailMessage(to="bob@example.org", subject=f"reminder {i}", text=".")
                        for i in range(3)])

    before = time.time()
    report = account.run_worker(once=True, wait=0)

    assert (report.sent, report.dead) == (1, 0)
    [row] = account.queue()
    assert (row.dead, row.sent, row.waiting + row.scheduled) == (0, 1, 2)
    pause = account.store.pauses(before)["g"]
    assert pause.until >= before + A_DAY
    assert "5.4.5" in pause.reason
    assert account.log(outcome="account_stopped")
