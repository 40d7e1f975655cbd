"""Mailbox checks against a real Dovecot (IMAP and POP3 over TLS), started by the tests.

A message is sent through a file provider, then bounces and replies about it
are delivered to the account's mailbox in Dovecot; a check must log each
bounced recipient as ``bounced`` and put every message in the inbox.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import trustme
from click.testing import CliRunner
from conftest import MAILBOX_PASSWORD, MAILBOX_USER
from loopback.certificates import write_ca_file
from loopback.dovecot import Dovecot
from loopback.ports import refused_port
from mail_fixtures import OTHER, RECIPIENT, SENDER, fixture_mail

from postroom import Engine
from postroom.addresses import Address
from postroom.cli import cli
from postroom.mailbox import MailboxFailed
from postroom.mime import header_message_id

USER, PASSWORD = MAILBOX_USER, MAILBOX_PASSWORD

# protocol, security, the Dovecot listener
WAYS = [("imap", "ssl", "imaps"), ("imap", "starttls", "imap"), ("pop3", "ssl", "pop3s"),
        ("pop3", "starttls", "pop3")]


@pytest.fixture
def make_engine(tmp_path, dovecot, ca):
    """An engine with account ``desk`` (file provider) whose mailbox is in ``dovecot``."""
    ca_file = write_ca_file(ca, tmp_path / "ca.pem")

    def make(protocol="imap", security="ssl", listener="imaps", **mailbox) -> Engine:
        settings = {"host": "localhost", "port": dovecot.ports[listener], "protocol": protocol,
                    "security": security, "username": USER, "password": PASSWORD,
                    "tls_ca_file": str(ca_file), "timeout": 10, **mailbox}
        config = {"accounts": {"desk": {
            "provider": "email_file", "directory": str(tmp_path / "out"), "sender": SENDER,
            "mailbox": {k: v for k, v in settings.items() if v is not None}}}}
        return Engine.from_dict(config, base_dir=tmp_path, environ={})
    return make


def sent(engine: Engine) -> tuple[str, str]:
    """Send one message to two recipients; its id and its Message-ID header."""
    [message_id] = engine.send("desk", to=[RECIPIENT, OTHER], subject="Your appointment on "
                               "Tuesday", text="See you at 9.")
    engine.run_worker(once=True, wait=0)
    assert engine.log(message_id=message_id)[0].outcome == "accepted"
    return message_id, header_message_id(message_id, Address(SENDER))


@pytest.mark.parametrize(("protocol", "security", "listener"), WAYS)
def test_a_check_logs_bounces_and_keeps_replies(make_engine, dovecot: Dovecot, protocol,
                                                security, listener):
    engine = make_engine(protocol, security, listener)
    message_id, header = sent(engine)
    for name in ("dsn-postfix", "qmail-text", "reply", "other"):
        dovecot.deliver(USER, fixture_mail(name, header))

    report = engine.check_mailbox("desk")

    assert (report.read, report.bounces, report.replies, report.other) == (4, 2, 1, 1)
    bounces = engine.log(outcome="bounced")
    assert {(e.message_id, e.recipient, e.code) for e in bounces} == {
        (message_id, RECIPIENT, "5.1.1"), (message_id, OTHER, "5.1.1")}
    assert all(e.account == "desk" and e.summary == "Your appointment on Tuesday"
               for e in bounces)
    assert any("User unknown in virtual mailbox table" in e.text for e in bounces)
    kinds = {e.kind: e for e in engine.inbox(account="desk")}
    assert set(kinds) == {"bounce", "reply", "other"}
    assert kinds["reply"].message_id == message_id
    assert kinds["reply"].sender == RECIPIENT
    assert "make it 9:30" in kinds["reply"].text
    assert kinds["other"].message_id is None
    assert engine.inbox(message_id=message_id, kind="bounce")
    # Nothing is new the second time, and nothing was deleted (or, over IMAP, marked read:
    # a POP3 server marks what is retrieved, as Dovecot does).
    again = engine.check_mailbox("desk")
    assert (again.read, again.bounces) == (0, 0)
    assert dovecot.flagged_seen(USER) == (0 if protocol == "imap" else 4)
    assert len(engine.inbox()) == 4


def test_an_exchange_report_and_an_exim_bounce(make_engine, dovecot):
    engine = make_engine()
    _, header = sent(engine)
    dovecot.deliver(USER, fixture_mail("dsn-exchange", header))
    dovecot.deliver(USER, fixture_mail("exim-text", header))

    report = engine.check_mailbox("desk")

    assert report.bounces == 2
    found = sorted((e.code, e.info["format"]) for e in engine.log(outcome="bounced"))
    assert found == [("5.1.10", "dsn"), ("5.2.1", "text")]


def test_a_delay_warning_is_logged_as_delayed(make_engine, dovecot):
    engine = make_engine()
    message_id, header = sent(engine)
    dovecot.deliver(USER, fixture_mail("dsn-delayed", header))

    report = engine.check_mailbox("desk")

    assert (report.read, report.bounces) == (1, 0)
    [entry] = engine.log(outcome="delayed")
    assert (entry.message_id, entry.code) == (message_id, "4.4.1")


def test_a_bounce_of_a_message_postroom_did_not_send(make_engine, dovecot):
    engine = make_engine()
    dovecot.deliver(USER, fixture_mail("dsn-postfix", "<not-ours@elsewhere.example>"))

    report = engine.check_mailbox("desk")

    assert (report.bounces, report.unmatched) == (0, 1)
    assert engine.log(outcome="bounced") == []
    [entry] = engine.inbox(kind="bounce")
    assert entry.message_id is None


def test_a_check_takes_at_most_max_per_check_and_goes_on_next_time(make_engine, dovecot):
    engine = make_engine(max_per_check=2)
    _, header = sent(engine)
    for _ in range(3):
        dovecot.deliver(USER, fixture_mail("reply", header))

    first, second = engine.check_mailbox("desk"), engine.check_mailbox("desk")

    assert (first.read, first.left, second.read, second.left) == (2, 1, 1, 0)


def test_idle_wakes_when_mail_arrives(make_engine, dovecot):
    engine = make_engine()
    _, header = sent(engine)
    later = threading.Timer(0.5, dovecot.deliver, (USER, fixture_mail("reply", header)))
    later.start()
    try:
        assert engine.wait_for_mail("desk", timeout=30) is True
    finally:
        later.join()
    assert engine.check_mailbox("desk").replies == 1


def test_idle_gives_up_after_the_timeout_without_mail(make_engine):
    assert make_engine().wait_for_mail("desk", timeout=0.5) is False


def test_pop3_gives_no_signal_to_wait_for(make_engine):
    assert make_engine("pop3", "ssl", "pop3s").wait_for_mail("desk", timeout=30) is False


def diagnosis_of(engine: Engine):
    with pytest.raises(MailboxFailed) as failed:
        engine.check_mailbox("desk")
    test = engine.test_mailbox("desk")
    assert test == failed.value.diagnosis
    return test


def test_a_wrong_password(make_engine):
    found = diagnosis_of(make_engine(password="wrong"))

    assert (found.stage, found.category) == ("mailbox-login", "login-failed")
    assert "AUTHENTICATIONFAILED" in found.detail
    assert "check mailbox.username and mailbox.password" in found.hint
    assert "wrong" not in found.detail + found.hint


@pytest.mark.parametrize(("protocol", "listener"), [("imap", "imaps"), ("pop3", "pop3s")])
def test_a_certificate_not_trusted(make_engine, tmp_path, protocol, listener):
    stranger = write_ca_file(trustme.CA(), tmp_path / "stranger.pem")

    found = diagnosis_of(make_engine(protocol, "ssl", listener, tls_ca_file=str(stranger)))

    assert (found.stage, found.category) == ("mailbox-tls", "certificate-untrusted")
    assert "mailbox.tls_ca_file" in found.hint


def test_ssl_on_the_starttls_port(make_engine):
    found = diagnosis_of(make_engine("imap", "ssl", "imap", timeout=3))

    assert found.stage == "mailbox-tls"
    assert found.category in ("ssl-on-plain-port", "timeout")
    assert "mailbox.security" in found.hint or "mailbox.port" in found.hint


def test_nothing_listening(make_engine):
    found = diagnosis_of(make_engine(port=refused_port()))

    assert (found.stage, found.category) == ("mailbox-connect", "connection-refused")


def test_a_folder_that_does_not_exist(make_engine):
    found = diagnosis_of(make_engine(folder="Bounces"))

    assert (found.stage, found.category) == ("mailbox-folder", "folder-not-found")


def test_the_accounts_tls_settings_serve_the_mailbox_too(tmp_path, dovecot, ca):
    ca_file = write_ca_file(ca, tmp_path / "ca.pem")
    config = {"accounts": {"desk": {
        "provider": "smtp", "host": "127.0.0.1", "sender_email": SENDER,
        "tls_ca_file": str(ca_file),
        "mailbox": {"host": "localhost", "port": dovecot.ports["imaps"], "username": USER,
                    "password": PASSWORD}}}}
    engine = Engine.from_dict(config, base_dir=tmp_path, environ={})

    assert engine.account("desk").mailbox.tls_ca_file == ca_file
    assert engine.test_mailbox("desk").ok


def test_postroom_test_checks_the_mailbox_too(make_engine):
    diagnosis = make_engine().test("desk")

    assert diagnosis.ok, diagnosis
    assert diagnosis.facts["mailbox"].startswith("IMAP localhost:")
    assert diagnosis.facts["mailbox tls"].startswith("TLSv1.")
    broken = make_engine(password="wrong").test("desk")
    assert (broken.ok, broken.category) == (False, "login-failed")


def test_the_cli(make_engine, dovecot, tmp_path, monkeypatch):
    engine = make_engine()
    _, header = sent(engine)
    dovecot.deliver(USER, fixture_mail("dsn-postfix", header))
    dovecot.deliver(USER, fixture_mail("reply", header))
    config = tmp_path / "postroom.toml"
    mailbox = engine.account("desk").mailbox
    config.write_text(
        f'[accounts.desk]\nprovider = "email_file"\ndirectory = "out"\nsender = "{SENDER}"\n'
        f'[accounts.desk.mailbox]\nhost = "localhost"\nport = {mailbox.server_port}\n'
        f'username = "{USER}"\npassword = {{ env = "MAILBOX_PASSWORD" }}\n'
        f'tls_ca_file = "{mailbox.tls_ca_file}"\n'
        f'[store]\npath = "{engine.config.store.path}"\n')
    monkeypatch.setenv("MAILBOX_PASSWORD", PASSWORD)
    runner = CliRunner()

    checked = runner.invoke(cli, ["--config", str(config), "mailbox", "check", "desk"])
    listed = runner.invoke(cli, ["--config", str(config), "inbox", "--json"])
    logged = runner.invoke(cli, ["--config", str(config), "log", "--status", "bounced"])
    tested = runner.invoke(cli, ["--config", str(config), "mailbox", "test", "desk", "--json"])

    assert checked.exit_code == 0, checked.output
    assert "2 new, 1 bounced recipients logged, 1 replies" in checked.output
    assert {row["kind"] for row in json.loads(listed.output)} == {"bounce", "reply"}
    assert RECIPIENT in logged.output and "bounced" in logged.output
    assert json.loads(tested.output)["ok"] is True
    assert PASSWORD not in checked.output + listed.output + tested.output
    monkeypatch.setenv("MAILBOX_PASSWORD", "wrong")
    failed = runner.invoke(cli, ["--config", str(config), "mailbox", "check", "desk"])
    assert failed.exit_code == 1
    assert "FAILED at mailbox-login [login-failed]" in failed.output
    missing = runner.invoke(cli, ["--config", str(config), "mailbox", "check", "nobody"])
    assert missing.exit_code == 2


def test_a_check_survives_a_store_reopened_between_checks(make_engine, dovecot):
    engine = make_engine()
    _, header = sent(engine)
    dovecot.deliver(USER, fixture_mail("reply", header))
    engine.check_mailbox("desk")
    engine.close()

    reopened = make_engine()

    assert reopened.check_mailbox("desk").read == 0
    assert len(reopened.inbox()) == 1
    assert time.time() - reopened.inbox()[0].received > 0
