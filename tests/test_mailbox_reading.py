"""Reading incoming mail: standard and prose bounces, replies, other mail (no server needed)."""

from __future__ import annotations

import pytest
from mail_fixtures import OTHER, RECIPIENT, SENDER, fixture_mail

from postroom.mailbox.reading import Bounce, bounced, read_incoming
from postroom.mime import message_id_of

HEADER = "<3f9c2b7a1e0d4c5b8a7f6e5d4c3b2a19@clinic.example>"


@pytest.mark.parametrize(("name", "status", "reason"), [
    ("dsn-postfix", "5.1.1", "550 5.1.1 <ann.lee@example.net>: Recipient address rejected: "
                             "User unknown in virtual mailbox table"),
    ("dsn-exchange", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
                               "found by SMTP address lookup"),
])
def test_a_standard_bounce_names_the_original_and_the_failed_recipient(name, status, reason):
    incoming = read_incoming(fixture_mail(name, HEADER))

    assert (incoming.kind, incoming.standard) == ("bounce", True)
    assert incoming.refers[0] == HEADER
    assert bounced(incoming, [RECIPIENT, OTHER]) == [Bounce(RECIPIENT, status, reason)]
    assert incoming.auto


def test_a_delay_warning_is_a_report_but_not_a_failure():
    incoming = read_incoming(fixture_mail("dsn-delayed", HEADER))

    [report] = bounced(incoming, [RECIPIENT])
    assert (report.action, report.status) == ("delayed", "4.4.1")


def test_an_exim_prose_bounce():
    incoming = read_incoming(fixture_mail("exim-text", HEADER))

    assert (incoming.kind, incoming.standard) == ("bounce", False)
    assert incoming.refers == (HEADER,)
    # Only the failed one of the original's two recipients, though the copy names both.
    [failure] = bounced(incoming, [RECIPIENT, OTHER])
    assert failure.recipient == RECIPIENT
    assert failure.status == "5.2.1"
    assert "550 5.2.1 The email account that you tried to reach is disabled" in failure.reason


def test_a_qmail_failure_notice():
    incoming = read_incoming(fixture_mail("qmail-text", HEADER))

    [failure] = bounced(incoming, [RECIPIENT, OTHER])
    assert (failure.recipient, failure.status) == (OTHER, "5.1.1")
    assert "does not like recipient" in failure.reason


def test_a_reply_refers_to_the_message_it_answers():
    incoming = read_incoming(fixture_mail("reply", HEADER))

    assert (incoming.kind, incoming.refers) == ("mail", (HEADER,))
    assert (incoming.sender, incoming.recipient) == (RECIPIENT, SENDER)
    assert incoming.text.startswith("Thank you, I will be there.")
    assert incoming.received == 1772619160.0  # Wed, 04 Mar 2026 10:12:40 +0000
    assert not incoming.auto


def test_other_mail_refers_to_nothing():
    incoming = read_incoming(fixture_mail("other", HEADER))

    assert (incoming.kind, incoming.refers) == ("mail", ())


def test_a_prose_bounce_without_a_known_recipient_reports_none():
    incoming = read_incoming(fixture_mail("exim-text", HEADER))

    assert bounced(incoming, ["someone.else@example.org"]) == []


@pytest.mark.parametrize(("header", "expected"), [
    ("<3f9c2b7a@clinic.example>", "3f9c2b7a"), (" <a.b@c> ", "a.b"), ("<nodomain>", None),
    ("", None)])
def test_the_message_id_inside_a_message_id_header(header, expected):
    assert message_id_of(header) == expected
