"""The operator's view: ``postroom test office`` and ``postroom validate`` on a TOML config."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from postroom.cli import cli

PASSWORD = "hunter2-Very-Secret-9"


@pytest.fixture
def config_file(tmp_path, ca_file):
    """Write postroom.toml with an ``office`` account; the password comes from the environment."""
    def write(port: int, **settings: str) -> str:
        lines = {"provider": '"smtp"', "host": '"127.0.0.1"', "port": str(port),
                 "security": '"starttls"', "username": '"ann"',
                 "password": '{ env = "OFFICE_SMTP_PASSWORD" }',
                 "sender_email": '"ann@example.org"', "tls_ca_file": f'"{ca_file.name}"',
                 "timeout": "5", **settings}
        path = tmp_path / "postroom.toml"
        path.write_text("[accounts.office]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items()))
        return str(path)
    return write


def run(config: str, *args: str, password: str = PASSWORD):
    return CliRunner().invoke(cli, ["--config", config, *args],
                              env={"OFFICE_SMTP_PASSWORD": password})


def test_a_working_account_is_checked_without_sending(starttls_server, config_file):
    outcome = run(config_file(starttls_server.port), "test", "office")

    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.startswith("office: OK (send) - connected to 127.0.0.1:")
    assert "the server takes mail from ann@example.org (nothing sent" in outcome.output
    assert starttls_server.received == []
    assert starttls_server.commands["RSET"] == 1


def test_with_to_a_test_message_goes_there(starttls_server, config_file):
    outcome = run(config_file(starttls_server.port), "test", "office", "--to", "bo@example.org")

    assert outcome.exit_code == 0, outcome.output
    assert "sent to: bo@example.org" in outcome.output
    assert [r.recipients for r in starttls_server.received] == [("bo@example.org",)]


def test_a_wrong_password(starttls_server, config_file):
    outcome = run(config_file(starttls_server.port), "test", "office", password="wrong")

    assert outcome.exit_code == 1
    assert "office: FAILED at auth [auth-failed]" in outcome.output
    assert ("what to do:    the server refused user name 'ann' with this password: check "
            "username and password") in outcome.output


def test_plain_text_against_a_server_that_wants_starttls(starttls_server, config_file):
    outcome = run(config_file(starttls_server.port, security='"none"'), "test", "office")

    assert outcome.exit_code == 1
    assert "FAILED at auth [tls-required]" in outcome.output
    assert 'set security = "starttls"' in outcome.output


def test_validate_explains_ssl_on_the_starttls_port(config_file):
    outcome = run(config_file(587, security='"ssl"'), "validate")

    assert outcome.exit_code == 1
    assert 'error: accounts.office.security: security = "ssl" on port 587' in outcome.output
    assert 'hint: set security = "starttls" for port 587, or port = 465' in outcome.output


def test_the_installed_command_diagnoses_a_missing_ssl_setting(smtp_server, config_file):
    # A separate process finds the plugin through its installed entry point.
    server = smtp_server(security="ssl")
    config = config_file(server.port, timeout="1")

    outcome = subprocess.run(
        [sys.executable, "-m", "postroom", "--config", config, "test", "office"],
        env={"OFFICE_SMTP_PASSWORD": PASSWORD, "PATH": ""}, capture_output=True, text=True,
        timeout=60, check=False)

    assert outcome.returncode == 1, outcome.stderr
    assert "FAILED at tls [ssl-required]" in outcome.stdout
    assert 'set security = "ssl"' in outcome.stdout
    assert PASSWORD not in outcome.stdout + outcome.stderr
