"""Settings: structuring from TOML, defaults, errors that name the setting, offline checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from postroom import ConfigError, Engine
from postroom_smtp import SmtpConfig

README = Path(__file__).parents[1] / "README.md"


def engine_for(tmp_path, environ=None, **settings) -> Engine:
    account = {"provider": "smtp", "host": "mail.example.org",
               "sender_email": "ann@example.org", **settings}
    return Engine.from_dict({"accounts": {"office": account}}, base_dir=tmp_path,
                            environ=environ or {}, strict=True)


def problems(tmp_path, **settings) -> list[tuple[str, str, str]]:
    return [(p.severity, p.field, p.hint) for _, p in engine_for(tmp_path, **settings).validate()]


def test_the_readme_example_is_a_valid_account(tmp_path):
    example = re.search(r"```toml\n(.*?)```", README.read_text(), re.DOTALL).group(1)
    config_file = tmp_path / "postroom.toml"
    config_file.write_text(example)

    engine = Engine.from_file(config_file, environ={"OFFICE_SMTP_PASSWORD": "pw"})

    config = engine.account("office").config
    assert isinstance(config, SmtpConfig)
    assert (config.server.port, config.pop3_server.port) == (587, 995)
    assert config.pop3_server.host == "mail.example.org"
    assert config.pop3_password.reveal() == "pw"
    assert engine.validate() == []


@pytest.mark.parametrize(("security", "port"), [("none", 25), ("starttls", 587), ("ssl", 465)])
def test_the_port_follows_the_security_mode_unless_set(tmp_path, security, port):
    config = engine_for(tmp_path, security=security).account("office").config

    assert config.server.port == port
    assert engine_for(tmp_path, security=security, port=2525).account(
        "office").config.server.port == 2525


def test_defaults(tmp_path):
    config = engine_for(tmp_path).account("office").config

    assert (config.security, config.timeout, config.tls_verify) == ("starttls", 30.0, True)
    assert config.transport().authenticator is None
    assert config.transport().before_session == ()


@pytest.mark.parametrize(("settings", "path", "says"), [
    ({"sender_email": "ann.example.org"}, "accounts.office.sender_email",
     "not a valid email address"),
    ({"security": "tls"}, "accounts.office.security", '"none", "starttls", "ssl"'),
    ({"port": "587"}, "accounts.office.port", "expected an integer 1-65535"),
    ({"pasword": "x"}, "accounts.office.pasword", "did you mean 'password'"),
    ({"pop3": {"port": 0}}, "accounts.office.pop3.port", "expected an integer 1-65535"),
    ({"timeout": 0}, "accounts.office.timeout", "above 0"),
])
def test_bad_settings_are_named_with_what_was_expected(tmp_path, settings, path, says):
    with pytest.raises(ConfigError) as error:
        engine_for(tmp_path, **settings)

    assert f"{path}: " in str(error.value)
    assert says in str(error.value)


def test_a_correct_account_has_no_problems(tmp_path, ca_file):
    assert problems(tmp_path, username="ann", password="pw", tls_ca_file=str(ca_file)) == []
    assert problems(tmp_path, host="2001:db8::25") == []  # an IPv6 address is a host


@pytest.mark.parametrize(("settings", "field", "fix"), [
    ({"security": "ssl", "port": 587}, "security", 'set security = "starttls" for port 587'),
    ({"security": "starttls", "port": 465}, "security", 'set security = "ssl" for port 465'),
    ({"security": "none", "port": 465}, "security", 'set security = "ssl" for port 465'),
    ({"username": "ann"}, "password", "set password"),
    ({"password": "pw"}, "username", "set username"),
    ({"tls_ca_file": "missing.pem"}, "tls_ca_file", "point tls_ca_file at the CA certificate"),
    ({"host": "smtp://mail.example.org:587/"}, "host",
     'set host = "mail.example.org" and put the port in port'),
    ({"host": "mail.example.org:587"}, "host", 'set host = "mail.example.org"'),
    ({"host": " "}, "host", "set host to the server's name"),
    ({"username": "ann", "password": "pw", "pop3": {"host": "pop.example.org:995"}},
     "pop3.host", 'set pop3.host = "pop.example.org" and put the port in pop3.port'),
    ({"pop3": {}}, "pop3", "set pop3.username and pop3.password"),
    ({"username": "ann", "password": "pw", "pop3": {"security": "ssl", "port": 110}},
     "pop3.security", 'set pop3.security = "starttls" for port 110'),
])
def test_offline_errors_say_what_to_change(tmp_path, settings, field, fix):
    found = problems(tmp_path, **settings)

    assert len(found) == 1, found
    severity, where, hint = found[0]
    assert (severity, where) == ("error", field)
    assert fix in hint


@pytest.mark.parametrize(("settings", "field"), [
    ({"security": "none", "username": "ann", "password": "pw"}, "security"),
    ({"tls_verify": False}, "tls_verify"),
    ({"username": "ann", "password": "pw", "pop3": {"security": "none"}}, "pop3.security"),
])
def test_weak_settings_are_warned_about(tmp_path, settings, field):
    assert [(s, f) for s, f, _ in problems(tmp_path, **settings)] == [("warning", field)]


def test_secrets_come_from_the_environment_and_never_show(tmp_path):
    engine = engine_for(tmp_path, {"SMTP_PASSWORD": "hunter2-Very-Secret-9"}, username="ann",
                        password={"env": "SMTP_PASSWORD"})

    config = engine.account("office").config
    assert config.password.reveal() == "hunter2-Very-Secret-9"
    assert "hunter2" not in repr(config)
    assert "hunter2" not in repr(config.transport())
