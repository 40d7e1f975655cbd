"""Certificates are checked by default, and an untrusted one is refused with a clear diagnosis.

The servers are real TLS servers on loopback whose certificates come from a
throwaway CA. An account that trusts only the default CAs (the system's for
SMTP, the bundle requests ships for HTTPS), or another CA, must refuse them:
``postroom test`` says the certificate is not trusted and what to set,
``postroom send`` sends nothing (no password, no message), and only trusting
the server's own CA makes the same account work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from loopback.certificates import server_context, write_ca_file
from loopback.nexmo_api import fake_nexmo
from loopback.pop3 import running_pop3
from loopback.smtp import running_smtp

from postroom.cli import cli

pytestmark = pytest.mark.timeout(120)

USER, PASSWORD = "ann", "tls-Test-Pw-31"
# Variables that would change which CAs are trusted; the tests set their own.
CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(scope="module")
def server_ca() -> trustme.CA:
    """The CA that issued the servers' certificates."""
    return trustme.CA()


@pytest.fixture
def ca_files(tmp_path, server_ca) -> dict[str, Path]:
    return {"server": write_ca_file(server_ca, tmp_path / "server-ca.pem"),
            "other": write_ca_file(trustme.CA(), tmp_path / "other-ca.pem")}


@pytest.fixture(autouse=True)
def no_ca_variables(monkeypatch):
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def run(config: Path, *args: str, **env: str) -> tuple[int, str, dict | list | None]:
    """``postroom --config CONFIG ARGS``: exit code, text output, and the --json answer."""
    runner = CliRunner(env={"OFFICE_PASSWORD": PASSWORD, **env})
    text = runner.invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    data = runner.invoke(cli, ["--config", str(config), *args, "--json"],
                         catch_exceptions=False)
    assert data.exit_code == text.exit_code
    return text.exit_code, text.output, json.loads(data.stdout)


def send(config: Path, account: str, to: str) -> tuple[int, str, dict]:
    """``postroom send`` once (a failure may pause the account), and its delivery-log row."""
    runner = CliRunner(env={"OFFICE_PASSWORD": PASSWORD})
    done = runner.invoke(cli, ["--config", str(config), "send", "-a", account, "--to", to,
                               "--text", "not over an untrusted connection"],
                         catch_exceptions=False)
    (row,) = json.loads(runner.invoke(cli, ["--config", str(config), "log", "--json"],
                                      catch_exceptions=False).stdout)
    return done.exit_code, done.output, row


def smtp_config(folder: Path, port: int, security: str, ca_file: Path | None,
                **extra: str) -> Path:
    lines = {"provider": '"smtp"', "host": '"127.0.0.1"', "port": str(port),
             "security": f'"{security}"', "username": f'"{USER}"',
             "password": '{ env = "OFFICE_PASSWORD" }', "sender_email": '"ann@example.org"',
             "local_hostname": '"postroom.test"', "timeout": "5", **extra}
    if ca_file is not None:
        lines["tls_ca_file"] = f'"{ca_file}"'
    return write_config(folder, "office", lines)


def nexmo_config(folder: Path, url: str, ca_file: Path | None, **extra: str) -> Path:
    lines = {"provider": '"nexmo"', "api_key": '"fake-key"', "api_secret": '"fake-secret"',
             "sender": '"Clinic"', "base_url": f'"{url}"', "timeout": "5", **extra}
    if ca_file is not None:
        lines["ca_bundle"] = f'"{ca_file}"'
    return write_config(folder, "texts", lines, head='region = "GB"\n')


def write_config(folder: Path, account: str, lines: dict[str, str], head: str = "") -> Path:
    """``postroom.toml`` with a store and one account of these settings (TOML values)."""
    config = folder / "postroom.toml"
    config.write_text(f'{head}[store]\npath = "postroom.db"\n[accounts.{account}]\n'
                      + "".join(f"{key} = {value}\n" for key, value in lines.items()))
    return config


# --- SMTP ---------------------------------------------------------------------------------

@pytest.mark.parametrize("security", ["starttls", "ssl"])
@pytest.mark.parametrize("trusting", ["system CAs", "another CA"])
def test_an_smtp_server_with_an_untrusted_certificate_is_refused(tmp_path, server_ca, ca_files,
                                                                 security, trusting):
    ca_file = None if trusting == "system CAs" else ca_files["other"]
    with running_smtp(security=security, tls_context=server_context(server_ca),
                      users={USER: PASSWORD}) as server:
        config = smtp_config(tmp_path, server.port, security, ca_file)

        code, text, diagnosis = run(config, "test", "office")
        assert code == 1
        assert "FAILED at tls [certificate-untrusted]" in text
        assert "certificate verify failed" in text
        assert (diagnosis["stage"], diagnosis["category"]) == ("tls", "certificate-untrusted")
        assert "set tls_ca_file to that CA's certificate" in diagnosis["hint"]

        code, text, sent = send(config, "office", "bob@example.org")
        # A refused certificate needs the admin: the account stops until it is fixed.
        assert code == 1 and text.startswith("account_stopped: bob@example.org")
        assert (sent["outcome"], sent["attempt"]) == ("account_stopped", 1)
        assert "certificate verify failed" in sent["text"] and "tls_ca_file" in sent["text"]
        assert server.logins == [] and server.received == []  # no password, no message


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_trusting_the_servers_ca_makes_the_same_account_work(tmp_path, server_ca, ca_files,
                                                             security):
    with running_smtp(security=security, tls_context=server_context(server_ca),
                      users={USER: PASSWORD}) as server:
        config = smtp_config(tmp_path, server.port, security, ca_files["server"])
        code, text, diagnosis = run(config, "test", "office")
        assert code == 0, text
        assert diagnosis["ok"] and diagnosis["facts"]["tls"].startswith("TLS")
        assert server.logins == [USER, USER]


def test_an_smtp_certificate_for_another_name_is_refused(tmp_path, server_ca, ca_files):
    tls = server_context(server_ca, names=("mail.example.org",))
    with running_smtp(security="starttls", tls_context=tls, users={USER: PASSWORD}) as server:
        config = smtp_config(tmp_path, server.port, "starttls", ca_files["server"])
        code, _, diagnosis = run(config, "test", "office")
        assert code == 1
        assert (diagnosis["stage"], diagnosis["category"]) == ("tls",
                                                               "certificate-name-mismatch")
        assert "set host to the name on the certificate" in diagnosis["hint"]
        assert server.logins == []


def test_a_pop3_server_with_an_untrusted_certificate_is_refused_too(tmp_path, server_ca,
                                                                    ca_files):
    with running_pop3(users={USER: PASSWORD}, security="ssl",
                      tls_context=server_context(server_ca)) as pop3, \
            running_smtp(users={USER: PASSWORD}) as server:
        # The SMTP side needs no TLS here; the POP3 login before it must not go out.
        config = smtp_config(tmp_path, server.port, "none", ca_files["other"],
                             pop3=f'{{ port = {pop3.port}, security = "ssl" }}')
        code, _, diagnosis = run(config, "test", "office")
        assert code == 1
        assert (diagnosis["stage"], diagnosis["category"]) == ("pop3",
                                                               "pop3-certificate-untrusted")
        assert pop3.logins == [] and server.connections == 0


def test_turning_smtp_certificate_checks_off_is_never_silent(tmp_path, server_ca):
    with running_smtp(security="starttls", tls_context=server_context(server_ca),
                      users={USER: PASSWORD}) as server:
        config = smtp_config(tmp_path, server.port, "starttls", None, tls_verify="false")
        code, text, found = run(config, "validate")
        assert code == 0  # a warning, not an error: it is the admin's last resort
        assert "warning: accounts.office.tls_verify: certificate checks are off" in text
        assert [(p["severity"], p["field"]) for p in found["problems"]] == [
            ("warning", "tls_verify")]


# --- HTTPS (Nexmo) ------------------------------------------------------------------------

@pytest.mark.parametrize("trusting", ["system CAs", "another CA"])
def test_an_https_api_with_an_untrusted_certificate_is_refused(tmp_path, server_ca, ca_files,
                                                               trusting):
    ca_file = None if trusting == "system CAs" else ca_files["other"]
    with fake_nexmo(server_ca) as api:
        config = nexmo_config(tmp_path, api.url, ca_file)

        code, text, diagnosis = run(config, "test", "texts")
        assert code == 1
        assert "FAILED at tls [tls-untrusted]" in text
        assert (diagnosis["stage"], diagnosis["category"]) == ("tls", "tls-untrusted")
        assert "is not trusted" in diagnosis["detail"]
        assert "set ca_bundle to its PEM file" in diagnosis["hint"]

        code, text, sent = send(config, "texts", "07700 900123")
        # Only an admin can fix trust: the account stops and the message stays queued.
        assert code == 1 and text.startswith("account_stopped: +447700900123")
        assert sent["outcome"] == "account_stopped"
        assert sent["info"]["category"] == "tls-untrusted"
        assert api.sms == [] and api.balance_requests == 0  # no request got through


def test_trusting_the_apis_ca_makes_the_same_account_work(tmp_path, server_ca, ca_files):
    with fake_nexmo(server_ca) as api:
        config = nexmo_config(tmp_path, api.url, ca_files["server"])
        code, text, diagnosis = run(config, "test", "texts")
        assert code == 0, text
        assert diagnosis["ok"] and api.balance_requests == 2


def test_an_https_certificate_for_another_name_is_refused(tmp_path, server_ca, ca_files):
    with fake_nexmo(server_ca, names=("rest.example.org",)) as api:
        config = nexmo_config(tmp_path, api.url, ca_files["server"])
        code, _, diagnosis = run(config, "test", "texts")
        assert code == 1
        assert (diagnosis["category"], api.balance_requests) == ("tls-untrusted", 0)
        assert "mismatch" in diagnosis["detail"]


@pytest.mark.parametrize("empty", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_an_empty_ca_variable_does_not_turn_https_checks_off(tmp_path, server_ca, empty):
    # An empty CURL_CA_BUNDLE once made requests skip verification altogether.
    with fake_nexmo(server_ca) as api:
        config = nexmo_config(tmp_path, api.url, None)
        code, _, diagnosis = run(config, "test", "texts", **{empty: ""})
        assert code == 1 and diagnosis["category"] == "tls-untrusted"
        assert api.balance_requests == 0


@pytest.mark.parametrize(("setting", "value"), [("verify", "false"), ("tls_verify", "false"),
                                                ("ssl_verify", "false"),
                                                ("ca_bundle", "false")])
def test_no_setting_turns_https_checks_off(tmp_path, setting, value):
    config = nexmo_config(tmp_path, "https://rest.nexmo.com", None, **{setting: value})
    code, text, found = run(config, "validate")
    assert code == 2  # the account cannot be read: it waits, refused, with the setting named
    assert f"accounts.texts.{setting}" in text
    assert f"accounts.texts.{setting}" in {f"{row['where']}.{row['field']}"
                                           for row in found["problems"]}
