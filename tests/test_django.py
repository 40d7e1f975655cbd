"""postroom in a real Django project (tests/django_project), driven as its users drive it:
its own test suite under Django's runner, the test client, and manage.py commands."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from loopback.smtp import running_smtp

PROJECT = Path(__file__).parent / "django_project"
LOGO = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")

pytestmark = pytest.mark.timeout(180)


def write_config(folder: Path, office: str) -> Path:
    config = folder / "postroom.toml"
    config.write_text(textwrap.dedent(f"""
        region = "GB"
        [store]
        path = "real.db"
        [accounts.office]
        {office}
        [accounts.bulk]
        provider = "email_file"
        directory = "bulk"
        [accounts.texts]
        provider = "sms_file"
        path = "texts.jsonl"
    """))
    return config


def manage(folder: Path, *args: str, timeout: float = 120, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=env(folder),
                          capture_output=True, text=True, timeout=timeout, check=False, **popen)


def env(folder: Path) -> dict[str, str]:
    return {**os.environ, "CLINIC_POSTROOM": str(folder / "postroom.toml"),
            "CLINIC_DB": str(folder / "clinic.sqlite3"), "PYTHONPATH": str(PROJECT)}


@pytest.fixture
def files_config(tmp_path) -> Path:
    write_config(tmp_path, 'provider = "email_file"\ndirectory = "mail"\n'
                           'sender = "desk@clinic.example"')
    return tmp_path


def test_the_projects_own_tests_pass_under_djangos_runner_and_touch_no_outbox(files_config):
    done = manage(files_config, "test", "clinic", "-v", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 13 tests" in done.stderr and "OK" in done.stderr
    assert sorted(p.name for p in files_config.iterdir()) == ["postroom.toml"]


def test_the_worker_command_delivers_a_views_invitation_over_smtp(tmp_path):
    with running_smtp() as server:
        write_config(tmp_path, f'provider = "smtp"\nhost = "{server.host}"\n'
                               f'port = {server.port}\nsecurity = "none"\n'
                               'sender_email = "desk@clinic.example"')
        script = ("from django.test import Client; "
                  "print(Client().post('/invite/', {'email': 'ann@example.org'}).content.decode())")
        posted = manage(tmp_path, "shell", "-c", script)
        assert posted.returncode == 0, posted.stderr
        message_id = posted.stdout.strip().splitlines()[-1]  # after the shell's own notes
        assert server.received == []  # queued, not sent: the worker sends
        worked = manage(tmp_path, "postroom_worker", "--once", "--json")
        assert worked.returncode == 0, worked.stderr
        assert json.loads(worked.stdout)["sent"] == 1
        [received] = server.received
    assert sorted(received.recipients) == ["ann@example.org", "audit@clinic.example",
                                           "records@clinic.example"]
    mime = email.message_from_bytes(received.content, policy=email.policy.default)
    assert mime["Message-ID"] == message_id
    assert mime["From"] == "Dr Okafor <okafor@clinic.example>"
    assert mime["Bcc"] is None and mime["X-Booking"] == "2291"
    [logo] = [p for p in mime.walk() if p.get_content_type() == "image/png"]
    assert logo["Content-ID"] == "<logo@clinic.example>"
    assert logo.get_content() == LOGO
    related = next(p for p in mime.walk() if p.get_content_type() == "multipart/related")
    html = next(p for p in related.walk() if p.get_content_type() == "text/html")
    assert 'src="cid:logo@clinic.example"' in html.get_content()
    [calendar] = [p for p in mime.walk() if p.get_content_type() == "text/calendar"]
    assert calendar.get_param("method") == "REQUEST"
    assert "UID:appt-2291@clinic.example" in calendar.get_content()


def test_manage_py_postroom_is_the_cli_on_the_projects_settings(files_config):
    script = ("from django.test import Client; "
              "Client().post('/remind/', {'phone': '07700 900123'})")
    assert manage(files_config, "shell", "-c", script).returncode == 0
    shown = manage(files_config, "postroom", "queue", "--json")
    assert shown.returncode == 0, shown.stderr
    [row] = json.loads(shown.stdout)["accounts"]
    assert (row["account"], row["waiting"]) == ("texts", 1)
    assert manage(files_config, "postroom", "validate").returncode == 0
    usage = manage(files_config, "postroom", "credits", "nope")
    assert usage.returncode == 2 and "no account named 'nope'" in usage.stderr
    assert "Traceback" not in usage.stderr
    helped = manage(files_config, "postroom", "--help")
    assert helped.returncode == 0 and "queue" in helped.stdout


def test_the_worker_command_stops_on_sigterm_after_its_batch(files_config):
    worker = subprocess.Popen([sys.executable, "manage.py", "postroom_worker"], cwd=PROJECT,
                              env=env(files_config), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (files_config / "real.db").exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # the worker opens the outbox when it starts looking
        assert worker.poll() is None, worker.communicate()
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert "sent 0, dead 0" in out


def test_a_broken_configuration_fails_djangos_checks_with_the_setting_named(tmp_path):
    (tmp_path / "postroom.toml").write_text('[accounts.office]\nprovider = "smtp"\nport = "x"\n')
    done = manage(tmp_path, "check")
    assert done.returncode == 1
    assert "postroom.E001" in done.stderr and "accounts.office.port" in done.stderr
