"""POP-before-SMTP against a real POP3 responder and an SMTP server that enforces it."""

from __future__ import annotations

import pytest
from loopback.pop3 import PopLoginRequired
from loopback.smtp import Drop, NthCommand

from postroom import Outcome

# What a client that logs in and reads nothing may say to the POP3 server.
LOGIN_ONLY = {"CAPA", "STLS", "USER", "PASS", "QUIT"}


@pytest.fixture
def pop3(pop3_server):
    return pop3_server()


@pytest.fixture
def relay(smtp_server, pop3):
    """An SMTP server that relays only for sessions after a fresh POP3 login, and no AUTH."""
    return smtp_server(security="starttls", users={}, faults=[PopLoginRequired(pop3)])


def pop3_account(pop, **settings):
    return {"port": pop.port, "security": "none", **settings}


def test_without_pop_before_smtp_the_relay_refuses(relay, office, messages):
    # The control case: shows the relay really insists on a POP3 login. Without
    # one, none of the account's mail can go: it waits for the settings to change.
    [result] = office(relay, username=None, password=None).deliver("office", messages(1))

    assert (result.outcome, result.code) == (Outcome.ACCOUNT_STOPPED, "554")
    assert result.info["category"] == "relay-denied"
    assert "set username and password" in result.info["hint"]


def test_each_smtp_session_follows_a_pop3_login(relay, pop3, office, messages):
    relay.handler.faults.append(NthCommand("MAIL", 3, Drop()))
    engine = office(relay, username=None, password=None,
                    pop3=pop3_account(pop3, username="ann", password="hunter2-Very-Secret-9"))

    results = engine.deliver("office", messages(4))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 4
    assert relay.connections == 2
    assert pop3.logins == ["ann", "ann"]  # once before each session, the reconnect included
    assert set(pop3.commands) <= LOGIN_ONLY  # nothing listed, nothing downloaded


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_pop3_over_tls(pop3_server, smtp_server, office, security):
    pop = pop3_server(security=security)
    relay = smtp_server(security="starttls", users={}, faults=[PopLoginRequired(pop)])

    diagnosis = office(relay, username=None, password=None,
                       pop3=pop3_account(pop, security=security, username="ann",
                                         password="hunter2-Very-Secret-9")).test("office")

    assert diagnosis.ok, diagnosis
    assert diagnosis.facts["pop3"] == f"logged in to 127.0.0.1:{pop.port} as ann before sending"
    assert pop.logins == ["ann"]
    assert set(pop.commands) <= LOGIN_ONLY


def test_pop3_uses_the_account_login_unless_given_its_own(starttls_server, pop3, office):
    diagnosis = office(starttls_server, pop3=pop3_account(pop3)).test("office")

    assert diagnosis.ok, diagnosis
    assert pop3.logins == ["ann"]
    assert starttls_server.logins == ["ann"]


def test_a_refused_pop3_login(relay, pop3, office):
    diagnosis = office(relay, username=None, password=None,
                       pop3=pop3_account(pop3, username="ann",
                                         password="not-the-password")).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("pop3", "pop3-login-failed")
    assert "-ERR" in diagnosis.detail
    assert "check pop3.username and pop3.password" in diagnosis.hint
    assert relay.connections == 0  # SMTP is not tried after a failed POP3 login


def test_a_refused_pop3_login_pauses_the_account(relay, pop3, office, messages):
    results = office(relay, username=None, password=None,
                     pop3=pop3_account(pop3, username="ann", password="wrong")
                     ).deliver("office", messages(2))

    assert [r.outcome for r in results] == [Outcome.ACCOUNT_STOPPED] * 2
    assert "pop3.password" in results[0].text


def test_a_pop3_server_name_that_does_not_resolve(starttls_server, office):
    diagnosis = office(starttls_server,
                       pop3={"host": "pop.example.invalid", "port": 110}).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("pop3", "pop3-host-not-found")
    assert "check pop3.host for typos" in diagnosis.hint
