"""Against a real Postfix (and Dovecot for its logins), set up as an office mail admin would.

Each case is checked in what postroom reports and in what Postfix itself
logged: its rejections, its failed logins, the messages it queued.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from loopback.postfix import MailLog

from postroom import EmailMessage, Engine, Outcome

OFFICE = "office@example.com"
BILLING = "billing@example.com"


def test_a_working_account_is_checked_and_nothing_is_sent(postfix, postfix_office):
    mark = postfix.log.mark()

    diagnosis = postfix_office().test("office")

    assert diagnosis.ok, diagnosis
    assert diagnosis.facts["login"] == f"as {OFFICE}"
    assert diagnosis.facts["tls"].startswith("TLSv1.")
    [session] = postfix.log.wait_for(MailLog.sessions, 1, since=mark)
    assert "mail=1 rcpt=1 rset=1" in session
    assert "data" not in session
    assert MailLog.queued_message_ids(postfix.log.lines(mark)) == []


def test_a_test_message_reaches_postfix_over_implicit_tls(postfix, postfix_office):
    mark = postfix.log.mark()

    diagnosis = postfix_office("smtps").test("office", "ann@example.org")

    assert diagnosis.ok, diagnosis
    assert diagnosis.facts["security"] == "ssl"
    delivered = postfix.log.wait_for(MailLog.delivered, 1, since=mark)
    assert delivered == ["ann@example.org"]
    message_id = diagnosis.facts["message id"].strip("<>")
    assert MailLog.queued_message_ids(postfix.log.lines(mark)) == [message_id]


def test_a_sender_the_login_does_not_own(postfix, postfix_office):
    # Postfix answers its sender check at RCPT (smtpd_delay_reject = yes).
    diagnosis = postfix_office(sender_email=BILLING).test("office", "ann@example.org")

    assert (diagnosis.stage, diagnosis.category) == ("send", "sender-refused")
    assert (f"refused RCPT: 553 5.7.1 <{BILLING}>: Sender address rejected: not owned by user "
            f"{OFFICE}") in diagnosis.detail
    assert diagnosis.hint.startswith(f"the server does not let this account ({OFFICE}) send "
                                     f"as {BILLING}: set sender_email to an address the account "
                                     "may send from")


def test_a_refused_sender_in_a_send(postfix, postfix_office):
    engine = postfix_office(sender_email=BILLING)
    own_sender = EmailMessage(to="ann@example.org", subject="s", text="t", sender=OFFICE)
    mark = postfix.log.mark()

    refused, accepted = engine.deliver("office", [
        EmailMessage(to="ann@example.org", subject="s", text="t"), own_sender])

    # The account's own sender: nothing it sends can go, so it waits for a fix.
    assert refused.outcome is Outcome.ACCOUNT_STOPPED
    assert refused.info["category"] == "sender-refused"
    assert "set sender_email" in refused.info["hint"]
    assert "Sender address rejected: not owned by user" in refused.text
    assert accepted.outcome is Outcome.ACCEPTED
    assert postfix.log.wait_for(MailLog.delivered, 1, since=mark) == ["ann@example.org"]
    [rejection] = MailLog.rejections(postfix.log.lines(mark))
    assert f"from=<{BILLING}>" in rejection


def test_a_message_whose_own_sender_is_refused_fails_alone(postfix, postfix_office):
    [result] = postfix_office().deliver("office", [
        EmailMessage(to="ann@example.org", subject="s", text="t", sender=BILLING)])

    assert result.outcome is Outcome.PERMANENT
    assert result.info["category"] == "sender-refused"
    assert "the message's own sender" in result.info["hint"]


def test_not_logged_in(postfix, postfix_office):
    engine = postfix_office(username=None, password=None)

    diagnosis = engine.test("office")
    [result] = engine.deliver("office", [EmailMessage(to="ann@example.org", text="t")])

    assert (diagnosis.stage, diagnosis.category) == ("send", "login-required")
    assert "Sender address rejected: not logged in" in diagnosis.detail
    assert "set username and password" in diagnosis.hint
    assert result.outcome is Outcome.ACCOUNT_STOPPED
    assert result.info["category"] == "login-required"


def test_mail_before_starttls(postfix, postfix_office):
    diagnosis = postfix_office(security="none", username=None, password=None).test("office")

    assert (diagnosis.stage, diagnosis.category) == ("send", "tls-required")
    assert "530 5.7.0 Must issue a STARTTLS command first" in diagnosis.detail


def test_relay_denied_without_a_login(postfix, postfix_office):
    engine = postfix_office("mx", username=None, password=None)

    diagnosis = engine.test("office", "ann@example.org")

    assert (diagnosis.stage, diagnosis.category) == ("send", "relay-denied")
    assert "554 5.7.1 <ann@example.org>: Relay access denied" in diagnosis.detail
    assert "set username and password" in diagnosis.hint


def test_relay_denied_after_a_pop3_login_names_pop_before_smtp(postfix, postfix_office):
    # Dovecot takes the POP3 login (over STLS, trusting the same CA file as SMTP);
    # this Postfix does not relay for it: the hint points at POP-before-SMTP.
    mark = postfix.dovecot_log.mark()
    engine = postfix_office("mx", username=None, password=None, pop3={
        "port": postfix.port("pop3"), "security": "starttls", "username": OFFICE,
        "password": postfix.users[OFFICE]})

    diagnosis = engine.test("office", "ann@example.org")

    assert (diagnosis.stage, diagnosis.category) == ("send", "relay-denied")
    assert "POP-before-SMTP" in diagnosis.hint
    assert "check that pop3.host" in diagnosis.hint
    assert diagnosis.facts["pop3"] == (f"logged in to localhost:{postfix.port('pop3')} as "
                                       f"{OFFICE} before sending")
    logins = [line.text for line in postfix.dovecot_log.lines(mark) if "Login:" in line.text]
    assert len(logins) == 1 and f"user=<{OFFICE}>" in logins[0] and "TLS" in logins[0]


def test_a_wrong_password_is_one_failed_login(postfix, postfix_office):
    engine = postfix_office(password="not-the-password")
    mark = postfix.log.mark()

    diagnosis = engine.test("office")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "auth-failed")
    assert "with PLAIN failed: 535 5.7.8" in diagnosis.detail
    [session] = postfix.log.wait_for(MailLog.sessions, 1, since=mark)
    assert "auth=0/1" in session
    assert MailLog.failed_logins(postfix.log.lines(mark)) == ["PLAIN"]


def test_a_wrong_password_in_a_send_is_one_failed_login(postfix, postfix_office):
    mark = postfix.log.mark()

    results = postfix_office(password="not-the-password").deliver(
        "office", [EmailMessage(to=f"m{i}@example.org", text="t") for i in range(3)])

    assert [r.outcome for r in results] == [Outcome.ACCOUNT_STOPPED] * 3
    postfix.log.wait_for(MailLog.sessions, 1, since=mark)
    assert MailLog.failed_logins(postfix.log.lines(mark)) == ["PLAIN"]


def office_config(postfix, folder, **settings) -> Path:
    """postroom.toml with the office account on the submission port, its password
    in $OFFICE_PASSWORD, for worker processes to read."""
    account = {"provider": '"smtp"', "host": '"localhost"', "port": postfix.port("submission"),
               "security": '"starttls"', "username": f'"{OFFICE}"',
               "password": '{ env = "OFFICE_PASSWORD" }', "sender_email": f'"{OFFICE}"',
               "tls_ca_file": f'"{postfix.ca_file}"', "timeout": 10,
               "local_hostname": '"client.example.org"', **settings}
    path = folder / "postroom.toml"
    path.write_text("[delivery]\nbatch_size = 50\n\n[accounts.office]\n"
                    + "".join(f"{key} = {value}\n" for key, value in account.items()))
    return path


def run_workers(config: Path, password: str, count: int, code: int = 0) -> None:
    """``postroom worker --once`` in ``count`` processes at once, until all have ended,
    each with exit code ``code`` (1: messages were left unsent)."""
    env = {**os.environ, "OFFICE_PASSWORD": password}
    workers = [subprocess.Popen([sys.executable, "-m", "postroom", "--config", str(config),
                                 "worker", "--once"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(count)]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == code, out + err
        assert password not in out + err


def test_a_bulk_send_over_starttls_by_two_worker_processes(postfix, tmp_path):
    config = office_config(postfix, tmp_path)
    engine = Engine.from_file(config, environ={"OFFICE_PASSWORD": postfix.users[OFFICE]})
    engine.send("office", *[EmailMessage(to=f"member{i}@example.org", subject=f"renewal {i}",
                                         text="t") for i in range(300)])
    mark = postfix.log.mark()

    run_workers(config, postfix.users[OFFICE], 2)

    delivered = postfix.log.wait_for(MailLog.delivered, 300, since=mark)
    assert sorted(delivered) == sorted(f"member{i}@example.org" for i in range(300))
    lines = postfix.log.lines(mark)
    entries = engine.log(limit=1000)
    assert [e.outcome for e in entries] == ["accepted"] * 300
    # Each message reached Postfix once; each batch of 50 was one session with
    # one STARTTLS and one login, its messages pipelined.
    assert sorted(MailLog.queued_message_ids(lines)) == sorted(
        e.provider_id.strip("<>") for e in entries)
    sessions = MailLog.sessions(lines)
    assert len(sessions) == 6
    assert all("starttls=1 auth=1 mail=50 rcpt=50 data=50" in s for s in sessions)


def test_a_worker_process_stops_the_account_on_a_refused_sender(postfix, tmp_path):
    config = office_config(postfix, tmp_path, sender_email=f'"{BILLING}"')
    engine = Engine.from_file(config, environ={"OFFICE_PASSWORD": postfix.users[OFFICE]})
    [message_id] = engine.send("office", to="ann@example.org", text="t")
    mark = postfix.log.mark()

    run_workers(config, postfix.users[OFFICE], 1, code=1)

    [entry] = engine.log(message_id=message_id)
    assert (entry.outcome, entry.code) == ("account_stopped", "553")
    assert entry.info["category"] == "sender-refused"
    assert entry.info["hint"].startswith(f"the server does not let this account ({OFFICE}) "
                                         f"send as {BILLING}")
    postfix.log.wait_for(MailLog.sessions, 1, since=mark)
    [rejection] = MailLog.rejections(postfix.log.lines(mark))
    assert f"Sender address rejected: not owned by user {OFFICE}; from=<{BILLING}>" in rejection
    assert MailLog.queued_message_ids(postfix.log.lines(mark)) == []
