"""Settings: Gmail's presets, the account type's limits reaching the scheduler, offline checks."""

from __future__ import annotations

import pytest

from postroom import ConfigError, Engine

APP_PASSWORD = "qzvxkwhtjmbrplfd"
OAUTH2 = {"client_id": "1234-loopback.apps.googleusercontent.com",
          "client_secret": "GOCSPX-loopback-Client-Secret-7",
          "refresh_token": "1//loopback-Refresh-Token-Q9x"}


def load(tmp_path, **settings) -> Engine:
    account = {"provider": "gmail", "address": "ann.lee@gmail.com",
               "app_password": APP_PASSWORD, **settings}
    account = {key: value for key, value in account.items() if value is not None}
    return Engine.from_dict({"accounts": {"g": account}}, base_dir=tmp_path, environ={},
                            strict=True)


def problems(engine: Engine) -> dict[str, tuple[str, str]]:
    return {p.field: (p.severity, p.message) for _, p in engine.validate()}


@pytest.mark.parametrize(("security", "port"), [(None, 465), ("ssl", 465), ("starttls", 587)])
def test_choosing_gmail_fills_in_the_server(tmp_path, security, port):
    config = load(tmp_path, security=security).account("g").config

    assert (config.server.host, config.server.port) == ("smtp.gmail.com", port)
    assert config.server.security == (security or "ssl")
    assert config.from_address.email == "ann.lee@gmail.com"


def test_host_and_port_can_be_overridden(tmp_path):
    config = load(tmp_path, host="127.0.0.1", port=2465).account("g").config

    assert str(config.server) == "127.0.0.1:2465"


def test_plain_text_is_not_a_choice(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, security="none")

    assert caught.value.issues == [
        ("accounts.g.security", 'expected one of "ssl", "starttls", got "none"')]


def test_an_unknown_oauth2_setting_is_named(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, app_password=None, oauth2={**OAUTH2, "client_secert": "x"})

    [(path, message)] = caught.value.issues
    assert path == "accounts.g.oauth2.client_secert"
    assert "did you mean 'client_secret'?" in message


@pytest.mark.parametrize(("address", "account_type", "kind", "cap"), [
    ("ann.lee@gmail.com", None, "personal", 500),
    ("ann.lee@googlemail.com", None, "personal", 500),
    ("ann@clinic.example", None, "workspace", 2000),
    ("ann@clinic.example", "personal", "personal", 500),
    ("ann@clinic.example", "workspace", "workspace", 2000),
])
def test_the_account_type_gives_the_scheduler_its_daily_cap(tmp_path, address, account_type,
                                                             kind, cap):
    engine = load(tmp_path, address=address, account_type=account_type)

    assert engine.account("g").config.kind == kind
    assert engine.account("g").schedule.daily_cap == cap


def test_the_accounts_own_schedule_lowers_the_cap_but_cannot_raise_it(tmp_path):
    engine = load(tmp_path, schedule={"daily_cap": 120, "per_minute": 10})

    schedule = engine.account("g").schedule
    assert (schedule.daily_cap, schedule.per_minute) == (120, 10)
    raised = load(tmp_path, schedule={"daily_cap": 5000})
    assert raised.account("g").schedule.daily_cap == 500  # Google's limit stands


def test_a_valid_account_has_no_problems(tmp_path):
    assert load(tmp_path).validate() == []
    assert load(tmp_path, app_password=None, oauth2=OAUTH2).validate() == []


def test_an_app_password_pasted_with_spaces_is_fine(tmp_path):
    assert load(tmp_path, app_password="qzvx kwht jmbr plfd").validate() == []


def test_a_missing_credential(tmp_path):
    found = problems(load(tmp_path, app_password=None))

    assert found == {"app_password": (
        "error", "no credential: Gmail needs an app password or OAuth2")}


def test_two_credentials(tmp_path):
    found = problems(load(tmp_path, oauth2=OAUTH2))

    assert found == {"app_password": ("error", "both app_password and oauth2 are set")}


def test_the_accounts_own_password_is_suspected(tmp_path):
    severity, message = problems(load(tmp_path, app_password="Summer2026!"))["app_password"]

    assert severity == "warning"
    assert "534 5.7.9" in message


def test_empty_oauth2_values(tmp_path):
    found = problems(load(tmp_path, app_password=None,
                          oauth2={**OAUTH2, "client_id": " ", "refresh_token": ""}))

    assert set(found) == {"oauth2.client_id", "oauth2.refresh_token"}
    assert all(severity == "error" for severity, _ in found.values())


@pytest.mark.parametrize(("url", "severity"), [("http://127.0.0.1:8080/token", "warning"),
                                               ("oauth2.googleapis.com/token", "error")])
def test_a_token_url_that_is_not_https(tmp_path, url, severity):
    found = problems(load(tmp_path, app_password=None, oauth2={**OAUTH2, "token_url": url}))

    assert found["oauth2.token_url"][0] == severity


def test_a_gmail_address_cannot_be_workspace(tmp_path):
    found = problems(load(tmp_path, account_type="workspace"))

    assert found == {"account_type": (
        "error", "gmail.com addresses are personal Google accounts, not Workspace")}


def test_the_recipient_cap_may_be_lowered_not_raised(tmp_path):
    assert load(tmp_path, max_recipients=20).validate() == []
    assert problems(load(tmp_path, max_recipients=500)) == {"max_recipients": (
        "error", "Gmail takes at most 100 recipients per message sent over SMTP, not 500")}


@pytest.mark.parametrize(("security", "port", "expected"), [("ssl", 587, "starttls"),
                                                            ("starttls", 465, "ssl")])
def test_security_that_does_not_match_gmails_port(tmp_path, security, port, expected):
    found = problems(load(tmp_path, security=security, port=port))

    assert found == {"security": ("error", f'security = "{security}" on port {port}, where '
                                           f'Gmail speaks "{expected}"')}


def test_a_missing_ca_file(tmp_path):
    found = problems(load(tmp_path, tls_ca_file="no-such-ca.pem"))

    assert found["tls_ca_file"][0] == "error"
