"""The worker reads accounts' mailboxes on their schedule, against a real Dovecot:
at the account's checks (a fake clock moves between them), one worker per check
however many serve the account, none while the account is off; and a real worker
process reading on the mailbox's own interval."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import MAILBOX_PASSWORD, MAILBOX_USER
from loopback.certificates import write_ca_file
from loopback.dovecot import Dovecot
from mail_fixtures import fixture_mail

from postroom import Engine
from postroom.worker import Worker

USER, PASSWORD = MAILBOX_USER, MAILBOX_PASSWORD
LONDON = ZoneInfo("Europe/London")
pytestmark = pytest.mark.timeout(120)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp()


@pytest.fixture
def config(tmp_path, dovecot, ca) -> dict:
    ca_file = write_ca_file(ca, tmp_path / "ca.pem")
    return {"timezone": "Europe/London", "store": {"path": str(tmp_path / "outbox.db")},
            "accounts": {"desk": {
                "provider": "email_file", "directory": str(tmp_path / "out"),
                "schedule": {"mode": "scheduled", "at": ["09:00", "13:00"]},
                "mailbox": {"host": "localhost", "port": dovecot.ports["imaps"],
                            "username": USER, "password": PASSWORD,
                            "tls_ca_file": str(ca_file), "timeout": 10}}}}


def logins(dovecot: Dovecot, at_least: int = 0) -> int:
    """How many times the mailbox was logged in to; waits a little for ``at_least``, as
    Dovecot's log process writes the line a moment after the login."""
    deadline = time.monotonic() + 5
    while (count := dovecot.log.count(f"Login: user=<{USER}>")) < at_least and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    return count


def deliver(dovecot: Dovecot, subject: str) -> None:
    """A message about nothing postroom sent, with its own subject and Message-ID."""
    raw = fixture_mail("other", "<none@clinic.example>")
    raw = raw.replace(b"Subject: Your order has shipped", f"Subject: {subject}".encode())
    raw = raw.replace(b"<order-5521@", f"<{subject.replace(' ', '-')}@".encode())
    dovecot.deliver(USER, raw)


def test_mailboxes_are_read_at_the_checks_by_one_worker(config, tmp_path, dovecot):
    clock = [at("2026-03-04T10:00")]
    engines = [Engine.from_dict(config, base_dir=tmp_path, environ={},
                                clock=lambda: clock[0]) for _ in range(2)]
    first, second = (Worker(engine).mailboxes for engine in engines)

    deliver(dovecot, "before nine")
    assert first.run_due() == at("2026-03-04T13:00")  # the 09:00 check, not read yet
    assert [e.subject for e in engines[0].inbox()] == ["before nine"]

    deliver(dovecot, "at ten")
    clock[0] = at("2026-03-04T10:30")
    assert second.run_due() == at("2026-03-04T13:00")
    assert len(engines[1].inbox()) == 1  # between checks: not read

    clock[0] = at("2026-03-04T13:00")
    before = logins(dovecot, at_least=3)  # two deliveries and the 09:00 check's read
    first.run_due()
    second.run_due()
    assert logins(dovecot, at_least=before + 1) == before + 1  # one worker took the check
    assert len(engines[1].inbox()) == 2

    engines[0].disable("desk", "mailbox moving")
    deliver(dovecot, "while off")
    clock[0] = at("2026-03-05T09:00")
    assert first.run_due() is None
    assert len(engines[0].inbox()) == 2
    engines[0].enable("desk")
    first.run_due()
    assert len(engines[0].inbox()) == 3
    for engine in engines:
        engine.close()


def test_a_worker_process_reads_on_the_mailbox_interval(config, tmp_path, dovecot):
    del config["accounts"]["desk"]["schedule"]
    config["accounts"]["desk"]["mailbox"]["check_every"] = 0.2
    toml = tmp_path / "postroom.toml"
    toml.write_text(_toml(config))
    worker = subprocess.Popen([sys.executable, "-m", "postroom", "--config", str(toml),
                               "worker"], env=os.environ.copy(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deliver(dovecot, "first")
        with Engine.from_file(toml) as engine:
            deadline = time.monotonic() + 60
            while len(engine.inbox()) < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            deliver(dovecot, "second")
            while len(engine.inbox()) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            subjects = sorted(e.subject for e in engine.inbox())
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert subjects == ["first", "second"]


def _toml(config: dict) -> str:
    """The few shapes this module's config has, as TOML."""
    account = config["accounts"]["desk"]
    mailbox = account["mailbox"]
    values = "".join(f"{key} = {_value(value)}\n" for key, value in mailbox.items())
    return (f'timezone = "{config["timezone"]}"\n[store]\npath = "{config["store"]["path"]}"\n'
            f'[accounts.desk]\nprovider = "email_file"\ndirectory = "{account["directory"]}"\n'
            f"[accounts.desk.mailbox]\n{values}")


def _value(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)
