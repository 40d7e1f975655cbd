"""Configuration: typed settings, error paths that say what to fix, secrets by reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from postroom import ConfigError, Engine, Secret
from postroom.config import find_config_file


def load(registry, accounts, environ=None, **top):
    return Engine.from_dict({**top, "accounts": accounts}, registry=registry,
                            environ={"ECHO_SECRET": "s3cr3t", **(environ or {})}, strict=True)


def error_of(registry, accounts, **kw) -> str:
    with pytest.raises(ConfigError) as caught:
        load(registry, accounts, **kw)
    return str(caught.value)


@pytest.mark.parametrize(("value", "expected"), [
    ("abc", 'accounts.desk.port: expected an integer 1-65535, got "abc"'),
    (70000, "accounts.desk.port: expected an integer 1-65535, got 70000"),
    (True, "accounts.desk.port: expected an integer 1-65535, got true"),
    (25.5, "accounts.desk.port: expected an integer 1-65535, got 25.5"),
])
def test_a_bad_port_names_its_path_and_what_was_expected(registry, echo_settings, value,
                                                         expected):
    assert error_of(registry, {"desk": {**echo_settings, "port": value}}) == expected


def test_a_choice_lists_the_allowed_values(registry, echo_settings):
    message = error_of(registry, {"desk": {**echo_settings, "mode": "test"}})
    assert message == 'accounts.desk.mode: expected one of "live", "sandbox", got "test"'


def test_a_misspelt_setting_gets_a_suggestion(registry, echo_settings):
    message = error_of(registry, {"desk": {**echo_settings, "prot": 25}})
    assert message == "accounts.desk.prot: unknown setting; did you mean 'port'?"


def test_a_missing_setting_is_named(registry, echo_settings):
    settings = {k: v for k, v in echo_settings.items() if k != "host"}
    message = error_of(registry, {"desk": settings})
    assert message == "accounts.desk.host: required setting is missing"


def test_text_is_not_silently_made_from_a_number(registry, echo_settings):
    message = error_of(registry, {"desk": {**echo_settings, "host": 5}})
    assert message == "accounts.desk.host: expected text, got 5"


def test_every_problem_in_every_account_is_reported_at_once(registry, echo_settings):
    message = error_of(registry, {
        "desk": {**echo_settings, "port": "x"},
        "front": {**echo_settings, "sender": "not an address"},
        "back": {"provider": "smpt"},
    }, region="Atlantis")
    assert message.startswith("the configuration has 4 problems:")
    for path in ("region:", "accounts.desk.port:", "accounts.front.sender:",
                 "accounts.back.provider:"):
        assert path in message


def test_an_unknown_provider_lists_the_installed_ones(registry):
    message = error_of(registry, {"office": {"provider": "smpt"}})
    assert message == ("accounts.office.provider: unknown provider 'smpt'; installed providers: "
                       "echo, email_file, sms_file")
    message = error_of(registry, {"office": {"provider": "ecko"}})
    assert "(did you mean 'echo'?)" in message


def test_a_missing_provider_key_says_what_to_write(registry):
    message = error_of(registry, {"office": {"host": "x"}})
    assert message.startswith("accounts.office.provider: required")
    assert "email_file" in message


def test_an_unknown_top_level_key_is_refused(registry):
    message = error_of(registry, {}, acounts={})
    assert message == "acounts: unknown setting; did you mean 'accounts'?"


def test_secret_from_environment(registry, echo_settings):
    engine = load(registry, {"desk": echo_settings})
    secret = engine.account("desk").config.api_secret
    assert isinstance(secret, Secret)
    assert secret.reveal() == "s3cr3t"
    assert "s3cr3t" not in repr(engine.account("desk"))
    assert "env ECHO_SECRET" in repr(secret)


def test_secret_from_file_relative_to_the_config(registry, echo_settings, tmp_path):
    (tmp_path / "secret.txt").write_text("from-a-file\n")
    engine = Engine.from_dict(
        {"accounts": {"desk": {**echo_settings, "api_secret": {"file": "secret.txt"}}}},
        registry=registry, base_dir=tmp_path, environ={})
    assert engine.account("desk").config.api_secret.reveal() == "from-a-file"


def test_a_missing_secret_source_names_the_setting_and_not_the_value(registry, echo_settings,
                                                                      tmp_path):
    message = error_of(registry, {"desk": {**echo_settings, "api_secret": {"env": "NOPE"}}})
    assert message == ("accounts.desk.api_secret: environment variable NOPE is not set; "
                       "export it before running postroom")
    message = error_of(registry, {"desk": {**echo_settings, "api_secret": {"file": "/no/such"}}})
    assert message.startswith("accounts.desk.api_secret: cannot read secret file /no/such")
    message = error_of(registry, {"desk": {**echo_settings, "api_secret": {"vault": "x"}}})
    assert "expected a string" in message


def test_a_secret_is_never_quoted_back_in_an_error(registry, echo_settings):
    # A secret typed where a table was expected must not be echoed in the error.
    message = error_of(registry, {"desk": {**echo_settings, "api_secret": ["hunter2-secret"]}})
    assert "hunter2-secret" not in message


def test_region_reads_local_numbers_per_account(registry):
    engine = load(registry, {"texts": {"provider": "sms_file"},
                             "us": {"provider": "sms_file", "region": "US"}}, region="GB")
    assert engine.message("texts", to="07700 900123", text="x").to == "+447700900123"
    assert engine.message("us", to="(201) 555-0123", text="x").to == "+12015550123"


def test_toml_file_errors_point_at_the_line(tmp_path):
    path = tmp_path / "postroom.toml"
    path.write_text('[accounts.office]\nprovider = "smtp\n')
    with pytest.raises(ConfigError, match=r"postroom.toml: not valid TOML: .*line 2"):
        Engine.from_file(path)


def test_config_file_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"no config file at postroom\.toml"):
        find_config_file(None, environ={})
    (tmp_path / "postroom.toml").write_text("")
    (tmp_path / "other.toml").write_text("")
    assert find_config_file(None, environ={}) == Path("postroom.toml")
    assert find_config_file(None, environ={"POSTROOM_CONFIG": "other.toml"}) == Path("other.toml")
    assert find_config_file("postroom.toml", {"POSTROOM_CONFIG": "other.toml"}) == Path(
        "postroom.toml")
    with pytest.raises(ConfigError, match="named by POSTROOM_CONFIG"):
        find_config_file(None, environ={"POSTROOM_CONFIG": "missing.toml"})


def test_unknown_account_lists_the_configured_ones(registry, echo_settings):
    engine = load(registry, {"desk": echo_settings})
    with pytest.raises(ConfigError, match="no account named 'dsk'; configured accounts: desk"):
        engine.account("dsk")
