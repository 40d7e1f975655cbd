"""The transport as another plugin uses it: its own authenticator, preludes and envelopes."""

from __future__ import annotations

import base64
import smtplib

import pytest
from loopback.smtp import Drop, NthCommand
from loopback.smtp_reads import running_read_recorder

from postroom import Address, EmailMessage, Outcome, Secret
from postroom_smtp import (
    Endpoint,
    Envelope,
    PasswordAuthenticator,
    SessionError,
    SmtpConfig,
    SmtpSession,
    SmtpTransport,
    TlsPolicy,
    check_transport,
    explain,
    plugin,
    send_batch,
)


class TokenAuthenticator:
    """Logs in with a bearer token the way XOAUTH2 does, fetching a fresh one when refused."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.fetched = 0

    @property
    def identity(self) -> str:
        return "ann (token)"

    def _initial_response(self) -> str:
        token = self.tokens[self.fetched]
        self.fetched += 1
        # aiosmtpd speaks PLAIN, not XOAUTH2; the token travels as the password.
        return base64.b64encode(f"\0ann\0{token}".encode()).decode()

    def authenticate(self, connection: smtplib.SMTP) -> None:
        code, text = connection.docmd("AUTH", "PLAIN " + self._initial_response())
        if code == 535 and self.fetched < len(self.tokens):
            code, text = connection.docmd("AUTH", "PLAIN " + self._initial_response())
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, text)

    def rejected_hint(self, code: int, text: str) -> str:
        return "sign in again to grant access"


class CountingPrelude:
    name = "prelude"

    def __init__(self) -> None:
        self.runs = 0

    def run(self) -> str:
        self.runs += 1
        return f"ran {self.runs} times"


def transport_for(server, ca_file, authenticator=None, before=()) -> SmtpTransport:
    return SmtpTransport(Endpoint(server.host, server.port, "starttls"), timeout=5,
                         local_hostname="client.example.org",
                         tls=TlsPolicy(ca_file=ca_file), authenticator=authenticator,
                         before_session=tuple(before))


SENDER = Address("ann@example.org", "Ann")


def test_a_plugin_authenticator_and_prelude_drive_a_batch(smtp_server, ca_file, messages):
    server = smtp_server(security="starttls", users={"ann": "fresh-token"},
                         faults=[NthCommand("MAIL", 2, Drop())])
    authenticator = TokenAuthenticator(["expired-token", "fresh-token", "fresh-token"])
    prelude = CountingPrelude()

    results = send_batch(transport_for(server, ca_file, authenticator, [prelude]),
                         messages(3), SENDER)

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert server.logins == ["ann", "ann"]
    assert prelude.runs == 2  # before each connection, the reconnect included
    assert authenticator.fetched == 3  # refreshed once after the first 535


def test_an_authenticators_own_hint_explains_its_refusal(smtp_server, ca_file):
    server = smtp_server(security="starttls", users={"ann": "fresh-token"})
    transport = transport_for(server, ca_file, TokenAuthenticator(["stale", "staler"]))

    diagnosis = check_transport(transport, SENDER, None)

    assert (diagnosis.stage, diagnosis.category) == ("auth", "auth-failed")
    assert diagnosis.hint == "sign in again to grant access"


def test_a_session_sends_envelopes_as_given(smtp_server, ca_file):
    server = smtp_server(security="starttls")
    # Lines that start with a dot (one is only a dot) and 8-bit text, not MIME-encoded.
    data = "Subject: dots\r\n\r\n.\r\n.leading\r\n..two\r\nGrüße\r\n".encode()
    envelope = Envelope("id-1", "<id-1@example.org>", "ann@example.org",
                        ("bob@example.org",), data)

    with SmtpSession(transport_for(server, ca_file)) as session:
        session.open()
        delivery = session.deliver(envelope)

    assert delivery.accepted
    [received] = server.received
    assert received.content == data
    assert "BODY=8BITMIME" in received.mail_options


def test_explain_reads_any_session_error():
    transport = SmtpTransport(Endpoint("smtp.example.invalid", 587, "starttls"), timeout=5,
                              local_hostname="client.example.org")
    session = SmtpSession(transport)

    with pytest.raises(SessionError) as failure:
        session.open()

    finding = explain(failure.value, transport)
    assert (finding.stage, finding.category, finding.stops_account) == (
        "dns", "host-not-found", True)
    assert not session.is_open


def test_the_password_authenticator_never_shows_the_password():
    authenticator = PasswordAuthenticator("ann", Secret("hunter2-Very-Secret-9"))

    assert "hunter2" not in repr(authenticator)


def test_the_hooks_leave_configs_of_plugins_built_on_this_one_alone():
    class HostedConfig(SmtpConfig):
        provider = "hosted"

    config = HostedConfig(host="smtp.example.org", sender_email="ann@example.org")

    assert plugin.postroom_validate(config) is None
    assert plugin.postroom_test(config, None) is None
    assert plugin.postroom_send(config, []) is None



def test_over_tls_a_message_end_and_the_next_commands_arrive_together(server_tls, ca_file,
                                                                      messages):
    # One write, one TLS record: the server reads the end of a message and the
    # next one's MAIL, RCPT and DATA at once and answers them at once. Apart,
    # its answer to the second waits for a delayed ACK (40 ms a message).
    # The second is longer than a TLS record: it goes in pieces, cut before its end.
    batch = messages(3)
    batch[1] = EmailMessage(to="bob@example.org", subject="long", text="line\n" * 8000)
    with running_read_recorder(server_tls) as server:
        results = list(send_batch(transport_for(server, ca_file), batch, SENDER))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert server.messages == 3
    ends = [read for read in server.reads if b"\r\n.\r\n" in read]
    assert len(ends) == 3
    assert all(read.endswith(b"\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
               and b"\r\n.\r\nMAIL FROM:<ann@example.org>" in read for read in ends[:2])
    assert ends[2].endswith(b"\r\n.\r\n")
    assert max(len(read) for read in server.reads) <= 16384
