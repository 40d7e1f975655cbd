"""The live test (``postroom test``): each failure provoked for real against loopback servers.

Every case must name its own stage and category and a hint that says what
to change; none of them may be told apart only by the detail text.
"""

from __future__ import annotations

import pytest
from loopback.certificates import server_context
from loopback.ports import refused_port, unresponsive_port
from loopback.smtp import Answer, ForAddress, NthCommand


def test_a_working_account_passes_and_sends_nothing(starttls_server, office):
    diagnosis = office(starttls_server).test("office")

    assert diagnosis.ok, diagnosis
    assert diagnosis.facts["tls"].startswith("TLSv1.")
    assert diagnosis.facts["login"] == "as ann"
    assert diagnosis.facts["login method"] == "PLAIN"
    assert diagnosis.facts["greeting"].startswith("220 ")
    assert diagnosis.facts["sender check"].startswith(
        "MAIL FROM:<ann@example.org> and RCPT TO:<ann@example.org> accepted")
    assert starttls_server.received == []
    assert (starttls_server.commands["DATA"], starttls_server.commands["RSET"]) == (0, 1)


def test_the_test_message_goes_to_the_given_address(starttls_server, office):
    diagnosis = office(starttls_server).test("office", "bob@example.org")

    assert diagnosis.ok, diagnosis
    [received] = starttls_server.received
    assert received.recipients == ("bob@example.org",)
    assert received.message()["Message-ID"] == diagnosis.facts["message id"]


def test_a_host_that_does_not_resolve(office):
    # .invalid is reserved: it never resolves, and the resolver says so at once.
    diagnosis = office(host="smtp.example.invalid", port=587).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("dns", "host-not-found")
    assert "smtp.example.invalid" in diagnosis.detail
    assert "check host for typos" in diagnosis.hint


def test_a_port_nobody_listens_on(office):
    diagnosis = office(port=refused_port()).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("connect", "connection-refused")
    assert "check port" in diagnosis.hint


def test_a_port_behind_a_dropping_firewall(office):
    with unresponsive_port() as port:
        diagnosis = office(port=port, timeout=0.5).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("connect", "connect-timeout")
    assert "firewall" in diagnosis.hint


def test_ssl_against_a_plain_text_port(smtp_server, office):
    server = smtp_server(security="none")

    diagnosis = office(server, security="ssl").test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "ssl-on-plain-port")
    assert 'set security = "starttls"' in diagnosis.hint


@pytest.mark.parametrize("security", ["none", "starttls"])
def test_plain_text_against_an_implicit_tls_port(smtp_server, office, security):
    server = smtp_server(security="ssl")

    # The server waits for our TLS hello, we for its greeting: the timeout ends it.
    diagnosis = office(server, security=security, timeout=1).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "ssl-required")
    assert 'set security = "ssl"' in diagnosis.hint


def test_a_server_that_wants_starttls_before_login(starttls_server, office):
    diagnosis = office(starttls_server, security="none").test("office")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "tls-required")
    assert 'set security = "starttls"' in diagnosis.hint
    assert starttls_server.logins == []


def test_a_server_that_wants_starttls_before_mail(starttls_server, office):
    # Without a login the client goes straight to MAIL: "530 Must issue a STARTTLS command first".
    diagnosis = office(starttls_server, security="none", username=None,
                       password=None).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("send", "tls-required")
    assert "530" in diagnosis.detail
    assert 'set security = "starttls"' in diagnosis.hint


def test_a_certificate_from_an_untrusted_ca(starttls_server, office):
    diagnosis = office(starttls_server, tls_ca_file=None).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "certificate-untrusted")
    assert "tls_ca_file" in diagnosis.hint


def test_a_certificate_for_another_name(smtp_server, office, ca):
    server = smtp_server(security="starttls",
                         tls_context=server_context(ca, ("mail.example.test",)))

    diagnosis = office(server).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "certificate-name-mismatch")
    assert "set host to the name on the certificate" in diagnosis.hint


def test_implicit_tls_with_an_untrusted_certificate(smtp_server, office):
    server = smtp_server(security="ssl")

    diagnosis = office(server, security="ssl", tls_ca_file=None).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "certificate-untrusted")


def test_turning_certificate_checks_off_reaches_a_self_signed_server(starttls_server, office):
    engine = office(starttls_server, tls_ca_file=None, tls_verify=False)

    assert engine.test("office").ok
    assert [p.field for _, p in engine.validate()] == ["tls_verify"]


@pytest.mark.parametrize(("rejection", "category", "advice"), [
    ("535 5.7.8 Authentication credentials invalid", "auth-failed",
     "check username and password"),
    ("534 5.7.9 Application-specific password required", "auth-too-weak", "app password"),
])
def test_a_refused_login(smtp_server, office, rejection, category, advice):
    server = smtp_server(security="starttls", rejection=rejection)

    diagnosis = office(server, password="not-the-password").test("office")

    assert (diagnosis.stage, diagnosis.category) == ("auth", category)
    assert rejection[:3] in diagnosis.detail
    assert advice in diagnosis.hint


def test_a_server_that_offers_no_login(smtp_server, office):
    server = smtp_server(security="none")  # aiosmtpd offers AUTH only over TLS

    diagnosis = office(server, security="none").test("office")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "auth-not-offered")
    assert "remove username and password" in diagnosis.hint


def test_a_server_that_wants_a_login(smtp_server, office):
    server = smtp_server(security="starttls", auth_required=True)

    diagnosis = office(server, username=None, password=None).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("send", "login-required")
    assert "set username and password" in diagnosis.hint


def test_starttls_on_a_server_without_it(smtp_server, office):
    server = smtp_server(security="none")

    diagnosis = office(server).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "starttls-not-offered")


def test_a_sender_the_account_may_not_use(smtp_server, office):
    refusal = Answer("553 5.7.1 <ann@example.org>: Sender address rejected: not owned by user")
    server = smtp_server(security="starttls", faults=[ForAddress("MAIL", "ann@example.org",
                                                                 refusal)])

    diagnosis = office(server).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("send", "sender-refused")
    assert "553" in diagnosis.detail
    assert "set sender_email to an address the account may send from" in diagnosis.hint
    assert server.received == []


def test_a_refused_recipient(smtp_server, office):
    refusal = Answer("550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown")
    server = smtp_server(security="starttls", faults=[ForAddress("RCPT", "bob@example.org",
                                                                 refusal)])

    diagnosis = office(server).test("office", "bob@example.org")

    assert (diagnosis.stage, diagnosis.category) == ("send", "recipient-refused")
    assert "bob@example.org" in diagnosis.detail
    assert "check the address" in diagnosis.hint


@pytest.mark.parametrize(("reply", "category"), [
    # Whatever the command, the reply's words and enhanced code say what it is about.
    ("553 5.7.1 <ann@example.org>: Sender address rejected: not owned by user ann",
     "sender-refused"),
    ("550 5.1.8 Bad sender's system address", "sender-refused"),
    ("550 5.7.60 SMTP; Client does not have permissions to send as this sender",
     "sender-refused"),
    ("550 5.7.1 <ann@example.org>: Sender address rejected: not logged in", "login-required"),
    ("530 5.7.0 Authentication required", "login-required"),
    ("550 5.7.57 Client was not authenticated to send anonymous mail", "login-required"),
    ("554 5.7.1 <bob@example.org>: Relay access denied", "relay-denied"),
    ("550 5.7.1 Unable to relay", "relay-denied"),
])
@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA"])
def test_a_refusal_is_read_from_its_reply_at_any_command(smtp_server, office, command,
                                                         reply, category):
    server = smtp_server(security="starttls", faults=[NthCommand(command, 1, Answer(reply))])

    diagnosis = office(server).test("office", "bob@example.org")

    assert (diagnosis.stage, diagnosis.category) == ("send", category)
    assert f"refused {command}: {reply}" in diagnosis.detail
    assert server.received == []


def test_a_config_with_errors_is_reported_before_going_online(office):
    diagnosis = office(port=587, security="ssl").test("office")

    assert (diagnosis.stage, diagnosis.category) == ("config", "invalid-config")
    assert 'set security = "starttls"' in diagnosis.hint


def test_a_ca_file_that_holds_no_certificate(starttls_server, office, tmp_path):
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("this is not a certificate\n")

    diagnosis = office(starttls_server, tls_ca_file=str(not_pem)).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("tls", "ca-file-unusable")
    assert "tls_ca_file" in diagnosis.hint
