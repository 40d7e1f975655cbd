"""Sending batches: one session, a result per message, reconnects without loss or doubles."""

from __future__ import annotations

from collections import Counter

import pytest
from loopback.ports import refused_port
from loopback.smtp import Answer, Drop, ForAddress, Greylist, NthCommand, Stall

from postroom import Attachment, EmailMessage, Outcome


def subjects(server) -> list[str]:
    return [r.message()["Subject"] for r in server.received]


def test_a_thousand_messages_go_over_one_connection(starttls_server, office, messages):
    batch = messages(1000)

    results = office(starttls_server).deliver("office", batch)

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 1000
    assert [r.message_id for r in results] == [m.id for m in batch]
    assert starttls_server.connections == 1
    assert starttls_server.logins == ["ann"]
    # EHLO before and after STARTTLS, then only the mail commands: no per-message overhead.
    assert starttls_server.commands == Counter(EHLO=2, MAIL=1000, RCPT=1000, DATA=1000)
    assert subjects(starttls_server) == [m.subject for m in batch]


def test_each_result_carries_the_message_id_header_and_the_server_reply(
        starttls_server, office, messages):
    [result] = office(starttls_server).deliver("office", messages(1))

    [received] = starttls_server.received
    assert result.provider_id == received.message()["Message-ID"]
    assert (result.code, result.text) == ("250", "2.0.0 OK queued as 1")


def test_the_mime_message_is_complete(starttls_server, office, tmp_path):
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    message = EmailMessage(
        to="Jörg Müller <joerg@example.org>", cc="carol@example.org", bcc="dave@example.org",
        subject="Grüße aus Köln: Übersicht", text="Hallo Jörg, anbei die Übersicht.",
        html="<p>Hallo Jörg, anbei die <b>Übersicht</b>.</p>",
        attachments=[report, Attachment("logo.png", b"\x89PNG\r\n\x1a\nfake", "image/png")])

    [result] = office(starttls_server, sender_name="Büro Köln",
                      reply_to="desk@example.org").deliver("office", [message])

    assert result.ok, result
    [received] = starttls_server.received
    assert received.mail_from == "ann@example.org"
    assert received.recipients == ("joerg@example.org", "carol@example.org", "dave@example.org")
    mime = received.message()
    assert mime["From"] == "Büro Köln <ann@example.org>"
    assert mime["To"] == "Jörg Müller <joerg@example.org>"
    assert mime["Subject"] == "Grüße aus Köln: Übersicht"
    assert mime["Reply-To"] == "desk@example.org"
    assert mime["Bcc"] is None
    assert mime["Date"] is not None
    assert mime["Message-ID"] == result.provider_id
    raw_headers = received.content.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()  # non-ASCII names and subject are RFC 2047 encoded
    assert mime.get_body(("plain",)).get_content().strip() == "Hallo Jörg, anbei die Übersicht."
    assert "<b>Übersicht</b>" in mime.get_body(("html",)).get_content()
    attachments = {part.get_filename(): (part.get_content_type(), part.get_content())
                   for part in mime.iter_attachments()}
    assert attachments == {"report.csv": ("text/csv", "a,b\n1,2\n"),
                           "logo.png": ("image/png", b"\x89PNG\r\n\x1a\nfake")}
    # The size lets the server refuse a message too big before it is sent.
    assert received.mail_options == (f"SIZE={len(received.content)}",)


def test_a_partly_refused_recipient_list_is_reported_per_recipient(smtp_server, office):
    unknown = Answer("550 5.1.1 <gone@example.org>: no such user")
    server = smtp_server(security="starttls",
                         faults=[ForAddress("RCPT", "gone@example.org", unknown)])
    message = EmailMessage(to=["bob@example.org", "gone@example.org"], cc="carol@example.org",
                           subject="hi", text="hi")

    [result] = office(server).deliver("office", [message])

    assert result.outcome is Outcome.ACCEPTED
    assert result.refused == {"gone@example.org": "550 5.1.1 <gone@example.org>: no such user"}
    assert server.received[0].recipients == ("bob@example.org", "carol@example.org")


@pytest.mark.parametrize(("reply", "outcome"), [
    ("550 5.1.1 no such user", Outcome.PERMANENT),
    ("450 4.2.1 mailbox busy", Outcome.TRANSIENT),
])
def test_a_message_whose_recipients_are_all_refused(smtp_server, office, messages, reply,
                                                    outcome):
    server = smtp_server(security="starttls",
                         faults=[ForAddress("RCPT", "gone@example.org", Answer(reply))])
    batch = [messages(1, to="gone@example.org")[0], *messages(1)]

    results = office(server).deliver("office", batch)

    assert [r.outcome for r in results] == [outcome, Outcome.ACCEPTED]
    assert results[0].code == reply[:3]
    assert reply in results[0].text
    assert results[0].refused == {"gone@example.org": reply}
    # The refused transaction is reset and the next message goes on the same connection.
    assert (server.connections, server.commands["RSET"]) == (1, 1)
    assert subjects(server) == ["message 0"]


@pytest.mark.parametrize(("command", "reply", "outcome"), [
    ("MAIL", "550 5.1.0 Sender domain has no mail server", Outcome.PERMANENT),
    ("MAIL", "451 4.3.0 Temporary lookup failure", Outcome.TRANSIENT),
    ("DATA", "554 5.6.0 Message content rejected", Outcome.PERMANENT),
    ("DATA", "452 4.3.1 Insufficient system storage", Outcome.TRANSIENT),
])
def test_refusals_are_permanent_for_5xx_and_transient_for_4xx(
        smtp_server, office, messages, command, reply, outcome):
    server = smtp_server(security="starttls", faults=[NthCommand(command, 2, Answer(reply))])

    results = office(server).deliver("office", messages(3))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED, outcome, Outcome.ACCEPTED]
    assert (results[1].code, results[1].text) == (reply[:3], reply[4:])
    assert subjects(server) == ["message 0", "message 2"]
    assert server.connections == 1


def test_a_server_that_answers_451_then_250(smtp_server, office, messages):
    server = smtp_server(security="starttls", faults=[Greylist()])
    engine = office(server)
    batch = messages(3)

    first = engine.deliver("office", batch)
    assert [(r.outcome, r.code) for r in first] == [(Outcome.TRANSIENT, "451")] * 3
    assert server.received == []

    # What the engine's retry does: the same messages again, later.
    second = engine.deliver("office", batch)
    assert [r.outcome for r in second] == [Outcome.ACCEPTED] * 3
    assert subjects(server) == ["message 0", "message 1", "message 2"]
    assert server.connections == 2


def test_a_connection_dropped_before_a_message_arrived_is_reopened_and_the_message_sent(
        smtp_server, office, messages):
    server = smtp_server(security="starttls", faults=[NthCommand("MAIL", 3, Drop())])

    results = office(server).deliver("office", messages(5))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 5
    assert subjects(server) == [f"message {i}" for i in range(5)]
    assert [r.connection for r in server.received] == [1, 1, 2, 2, 2]
    assert server.logins == ["ann", "ann"]


def test_a_message_whose_confirmation_was_lost_is_not_sent_again(smtp_server, office, messages):
    # The server has the whole message when it drops the line, so it may have kept it.
    server = smtp_server(security="starttls", faults=[NthCommand("DATA", 3, Drop())])

    results = office(server).deliver("office", messages(5))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2 + [Outcome.TRANSIENT] + [
        Outcome.ACCEPTED] * 2
    assert "may have been delivered" in results[2].text
    assert results[2].info == {"maybe_delivered": "true"}
    assert server.commands["DATA"] == 5  # message 2 was offered once, not twice
    assert subjects(server) == ["message 0", "message 1", "message 3", "message 4"]
    assert server.connections == 2


def test_a_message_that_loses_its_connection_twice_is_given_up_for_now(
        smtp_server, office, messages):
    server = smtp_server(security="starttls", faults=[NthCommand("MAIL", 2, Drop()),
                                                      NthCommand("MAIL", 3, Drop())])

    results = office(server).deliver("office", messages(3))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.TRANSIENT,
                                            Outcome.ACCEPTED]
    assert "connection" in results[1].text
    assert subjects(server) == ["message 0", "message 2"]
    assert server.connections == 3


def test_a_server_closing_with_421_is_reconnected(smtp_server, office, messages):
    server = smtp_server(security="starttls", faults=[
        NthCommand("MAIL", 3, Answer("421 4.7.0 Too many messages for this session"))])

    results = office(server).deliver("office", messages(4))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 4
    assert subjects(server) == [f"message {i}" for i in range(4)]
    assert server.connections == 2


def test_a_stalled_server_is_given_up_on_after_the_timeout(smtp_server, office, messages):
    server = smtp_server(security="starttls", faults=[NthCommand("MAIL", 2, Stall(3))])

    results = office(server, timeout=0.5).deliver("office", messages(3))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert [r.connection for r in server.received] == [1, 2, 2]
    assert subjects(server) == ["message 0", "message 1", "message 2"]


def test_a_batch_that_cannot_connect_pauses_the_account_as_unreachable(office, messages):
    results = office(port=refused_port()).deliver("office", messages(3))

    assert [r.outcome for r in results] == [Outcome.UNREACHABLE] * 3
    assert all("refused the connection" in r.text for r in results)


def test_a_refused_password_pauses_the_account(starttls_server, office, messages):
    results = office(starttls_server, password="wrong").deliver("office", messages(3))

    assert [(r.outcome, r.code) for r in results] == [(Outcome.ACCOUNT_STOPPED, "535")] * 3
    assert "check username and password" in results[0].text


def test_a_server_that_wants_starttls_before_mail_pauses_the_account(
        starttls_server, office, messages):
    results = office(starttls_server, security="none", username=None,
                     password=None).deliver("office", messages(2))

    assert [(r.outcome, r.code) for r in results] == [(Outcome.ACCOUNT_STOPPED, "530")] * 2
    assert 'set security = "starttls"' in results[0].text


def test_when_reconnecting_fails_the_rest_of_the_batch_waits(smtp_server, office, messages):
    server = smtp_server(security="starttls")

    def password_changed_then_dropped(command):
        # The mailbox's password changes while the batch is under way.
        if command.name == "MAIL" and server.commands["MAIL"] == 2:
            server.handler.users.clear()
            return Drop()
        return None

    server.handler.faults.append(password_changed_then_dropped)

    results = office(server).deliver("office", messages(4))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] + [Outcome.ACCOUNT_STOPPED] * 3
    assert subjects(server) == ["message 0"]


def test_a_config_with_errors_sends_nothing_and_pauses_the_account(office, messages):
    results = office(port=465).deliver("office", messages(2))

    assert [r.outcome for r in results] == [Outcome.ACCOUNT_STOPPED] * 2
    assert 'set security = "ssl"' in results[0].text


def test_implicit_tls_and_plain_servers_send_too(smtp_server, office, messages):
    tls_server = smtp_server(security="ssl")
    plain_server = smtp_server(security="none", users={}, auth_require_tls=False)

    over_tls = office(tls_server, security="ssl").deliver("office", messages(2))
    in_plain = office(plain_server, security="none", username=None,
                      password=None).deliver("office", messages(2))

    assert all(r.ok for r in over_tls + in_plain)
    assert (len(tls_server.received), len(plain_server.received)) == (2, 2)


def test_smtp_reports_no_credits(starttls_server, office):
    assert office(starttls_server).credits("office") is None


def test_internationalised_domains_go_in_the_envelope_in_their_ascii_form(smtp_server, office):
    server = smtp_server(security="starttls")
    batch = [EmailMessage(to="zoe@bücher.example", subject="IDN", text="x"),
             EmailMessage(to="ann@example.org", subject="plain", text="y")]
    results = office(server).deliver("office", batch)
    assert [r.ok for r in results] == [True, True]
    assert [r.recipients for r in server.received] == [("zoe@xn--bcher-kva.example",),
                                                       ("ann@example.org",)]
