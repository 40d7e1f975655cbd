"""The operator's view: ``postroom test`` and ``postroom validate`` on a gmail account in TOML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from loopback.gmail import DailyQuota

from postroom.cli import cli

APP_PASSWORD = "qzvxkwhtjmbrplfd"
GOOGLE_PASSWORD = "Anns-Own-Google-Password-5"
CLIENT_SECRET = "GOCSPX-loopback-Client-Secret-7"
REFRESH_TOKEN = "1//loopback-Refresh-Token-Q9x"
SECRETS = {"GMAIL_APP_PASSWORD": APP_PASSWORD, "GMAIL_CLIENT_SECRET": CLIENT_SECRET,
           "GMAIL_REFRESH_TOKEN": REFRESH_TOKEN}


@pytest.fixture
def config_file(tmp_path, ca_file, tokens):
    """Write postroom.toml with a gmail account ``g``; secrets come from the environment."""
    def write(port: int, login: str = "oauth2") -> str:
        lines = ['[accounts.g]', 'provider = "gmail"', 'address = "ann.lee@gmail.com"',
                 'host = "127.0.0.1"', f"port = {port}", f'tls_ca_file = "{ca_file.name}"',
                 "timeout = 5"]
        if login == "oauth2":
            lines += ["[accounts.g.oauth2]", f'client_id = "{tokens.client_id}"',
                      'client_secret = { env = "GMAIL_CLIENT_SECRET" }',
                      'refresh_token = { env = "GMAIL_REFRESH_TOKEN" }',
                      f'token_url = "{tokens.url}"']
        else:
            lines.append('app_password = { env = "GMAIL_APP_PASSWORD" }')
        path = tmp_path / "postroom.toml"
        path.write_text("\n".join(lines) + "\n")
        return str(path)
    return write


def run(config: str, *args: str, **secrets: str):
    return CliRunner().invoke(cli, ["--config", config, *args], env={**SECRETS, **secrets})


def test_a_working_oauth2_account(gmail, config_file):
    outcome = run(config_file(gmail.port), "test", "g")

    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.startswith("g: OK (send) - connected to 127.0.0.1:")
    assert "login as ann.lee@gmail.com (OAuth2)" in outcome.output
    assert "daily cap: 500 messages (Gmail's for a personal account)" in outcome.output


def test_the_accounts_own_password_gets_the_app_password_hint(gmail, config_file):
    outcome = run(config_file(gmail.port, login="app_password"), "test", "g",
                  GMAIL_APP_PASSWORD=GOOGLE_PASSWORD)

    assert outcome.exit_code == 1
    assert "g: FAILED at auth [auth-too-weak]" in outcome.output
    assert ("what to do:    Gmail wants an app password, not the account's own password: "
            "turn on 2-Step Verification for ann.lee@gmail.com") in outcome.output
    assert GOOGLE_PASSWORD not in outcome.output


def test_a_revoked_refresh_token(gmail, config_file, tokens):
    tokens.revoke(REFRESH_TOKEN)

    outcome = run(config_file(gmail.port), "test", "g")

    assert outcome.exit_code == 1
    assert "g: FAILED at token [refresh-token-invalid]" in outcome.output
    assert "what to do:    the refresh token was revoked or has expired" in outcome.output


def test_validate_names_a_missing_credential(config_file):
    path = Path(config_file(465, login="app_password"))
    path.write_text(path.read_text().replace('app_password = { env = "GMAIL_APP_PASSWORD" }\n',
                                             ""))

    outcome = run(str(path), "validate")

    assert outcome.exit_code == 1
    assert ("error: accounts.g.app_password: no credential: Gmail needs an app password or "
            "OAuth2") in outcome.output


def test_the_installed_command_explains_the_quota(gmail_server, config_file, tokens):
    # A separate process finds the plugin through its installed entry point.
    server = gmail_server(faults=[DailyQuota(0)])

    outcome = subprocess.run(
        [sys.executable, "-m", "postroom", "--config", config_file(server.port), "test", "g"],
        env={**SECRETS, "PATH": ""}, capture_output=True, text=True, timeout=60, check=False)

    assert outcome.returncode == 1, outcome.stderr
    assert "FAILED at send [quota-exceeded]" in outcome.stdout
    assert "postroom pauses it for 24 hours" in outcome.stdout
    assert [s for s in tokens.secret_values if s in outcome.stdout + outcome.stderr] == []
