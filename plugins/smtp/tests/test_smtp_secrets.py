"""Passwords never reach reprs, errors, diagnoses, results or logs."""

from __future__ import annotations

import logging
import traceback

import pytest
from loopback.pop3 import PopLoginRequired

from postroom_smtp import SessionError, SmtpSession

PASSWORD = "hunter2-Very-Secret-9"
POP3_PASSWORD = "pop-Secret-Word-4"


@pytest.fixture
def everything_logged(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
        assert POP3_PASSWORD not in text


def test_a_refused_login_shows_no_password(smtp_server, pop3_server, office, messages,
                                           everything_logged):
    pop = pop3_server(users={"ann": POP3_PASSWORD})
    server = smtp_server(security="starttls", users={"ann": "another-password"})
    engine = office(server, password=PASSWORD,
                    pop3={"port": pop.port, "security": "none", "password": POP3_PASSWORD})
    config = engine.account("office").config

    diagnosis = engine.test("office")
    results = engine.deliver("office", messages(2))
    with pytest.raises(SessionError) as failure:
        SmtpSession(config.transport()).open()

    assert (diagnosis.category, pop.logins) == ("auth-failed", ["ann"] * 3)
    assert "postroom_smtp" in {r.name for r in everything_logged.records}
    assert_no_secret(repr(config), repr(config.transport()), repr(diagnosis), repr(results),
                     str(failure.value), "".join(traceback.format_exception(failure.value)),
                     everything_logged.text)


def test_a_successful_send_shows_no_password(pop3_server, smtp_server, office, messages,
                                             everything_logged):
    pop = pop3_server(users={"ann": POP3_PASSWORD})
    server = smtp_server(security="starttls", faults=[PopLoginRequired(pop)])
    engine = office(server, password=PASSWORD,
                    pop3={"port": pop.port, "security": "none", "password": POP3_PASSWORD})
    server.handler.users["ann"] = PASSWORD

    diagnosis = engine.test("office")
    results = engine.deliver("office", messages(2))

    assert diagnosis.ok, diagnosis
    assert all(r.ok for r in results)
    assert "postroom_smtp" in {r.name for r in everything_logged.records}
    assert_no_secret(repr(diagnosis), repr(results), everything_logged.text,
                     *(r.content.decode() for r in server.received))
