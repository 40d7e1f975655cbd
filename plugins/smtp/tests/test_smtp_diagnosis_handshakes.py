"""The live test when the opening handshakes fail: EHLO and HELO refused, an
expired certificate, TLS that never gets going. Each is provoked for real
against loopback servers, as in test_smtp_diagnosis.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from loopback.certificates import server_context

from postroom_smtp import Endpoint, SessionError, SmtpSession, SmtpTransport, explain

# Short, so a stall ends fast; long enough that loopback answers well within it,
# also on a busy CI machine (it bounds the connect and EHLO too).
STALL_TIMEOUT = 1.5


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel does) and then never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield listener.getsockname()[1]


def test_a_server_that_refuses_our_hello(smtp_server, office):
    server = smtp_server(security="starttls",
                         hello_refusal="550 5.7.1 <client.example.test>: Helo command rejected")

    diagnosis = office(server, local_hostname="client.example.test").test("office")

    assert (diagnosis.stage, diagnosis.category) == ("hello", "hello-refused")
    assert "550 5.7.1" in diagnosis.detail
    assert "set local_hostname to this machine's full DNS name" in diagnosis.hint
    assert "'client.example.test'" in diagnosis.hint
    # smtplib falls back to HELO after a refused EHLO; both were refused.
    assert (server.commands["EHLO"], server.commands["HELO"]) == (1, 1)


def test_a_server_that_turns_our_hello_away_for_now(smtp_server):
    server = smtp_server(security="starttls",
                         hello_refusal="451 4.3.2 Too many connections, try later")
    transport = SmtpTransport(Endpoint(server.host, server.port, "starttls"), timeout=10,
                              local_hostname="client.example.org")

    with pytest.raises(SessionError) as failure, SmtpSession(transport) as session:
        session.open()

    finding = explain(failure.value, transport)
    assert (finding.stage, finding.category, finding.stops_account) == (
        "hello", "hello-deferred", False)
    assert "451 4.3.2" in finding.detail
    assert "tries again later" in finding.hint


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_an_expired_certificate(smtp_server, office, ca, security):
    server = smtp_server(security=security, tls_context=server_context(ca, expired=True))

    diagnosis = office(server, security=security).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "certificate-expired")
    assert "certificate has expired" in diagnosis.detail
    assert "ask the server's admin to renew it" in diagnosis.hint
    assert server.logins == []


@pytest.mark.parametrize("stall", ["reply", "handshake"])
def test_starttls_that_stalls(smtp_server, office, stall):
    server = smtp_server(security="starttls", stall_starttls=stall)

    diagnosis = office(server, timeout=STALL_TIMEOUT).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "tls-timeout")
    assert f"did not start within {STALL_TIMEOUT:g} s" in diagnosis.detail
    assert "postroom tries again later" in diagnosis.hint
    assert "check security and port" in diagnosis.hint


@pytest.mark.parametrize("stall", ["reply", "handshake"])
def test_a_stalled_starttls_does_not_pause_the_account(smtp_server, stall):
    server = smtp_server(security="starttls", stall_starttls=stall)
    transport = SmtpTransport(Endpoint(server.host, server.port, "starttls"),
                              timeout=STALL_TIMEOUT, local_hostname="client.example.org")

    with pytest.raises(SessionError) as failure, SmtpSession(transport) as session:
        session.open()

    finding = explain(failure.value, transport)
    assert (finding.stage, finding.category, finding.stops_account) == (
        "tls", "tls-timeout", False)


def test_implicit_tls_on_a_port_that_never_answers(office):
    with silent_port() as port:
        diagnosis = office(port=port, security="ssl", timeout=STALL_TIMEOUT).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "tls-timeout")
    assert f"did not start within {STALL_TIMEOUT:g} s" in diagnosis.detail
    assert "check security and port (usually" in diagnosis.hint
