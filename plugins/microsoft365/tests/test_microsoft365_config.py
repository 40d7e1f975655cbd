"""Settings and offline checks of a microsoft365 account (`postroom validate`)."""

from __future__ import annotations

import pytest

from postroom import ConfigError


def problems(engine, **settings):
    return {(p.severity, p.field) for _, p in engine(**settings).validate()}


def test_good_settings_have_no_problems(engine):
    assert problems(engine) == set()
    assert problems(engine, login="delegated", oauth2={"client_secret": None}) == set()


def test_app_only_sending_needs_the_client_secret(engine):
    assert problems(engine, oauth2={"client_secret": None}) == {
        ("error", "oauth2.client_secret")}


@pytest.mark.parametrize("name", ["tenant", "client_id", "client_secret"])
def test_an_empty_app_setting(engine, name):
    assert ("error", f"oauth2.{name}") in problems(engine, oauth2={name: " "})


@pytest.mark.parametrize("host", ["http://login.microsoftonline.com", "login.microsoftonline.com",
                                  "https://login.microsoftonline.com/contoso"])
def test_the_authority_host_is_an_https_host(engine, host):
    assert problems(engine, oauth2={"authority_host": host}) == {
        ("error", "oauth2.authority_host")}


def test_exchanges_recipient_cap_and_port(engine, tmp_path):
    assert problems(engine, max_recipients=1001, port=465,
                    tls_ca_file=str(tmp_path / "missing.pem")) == {
        ("error", "max_recipients"), ("error", "port"), ("error", "tls_ca_file")}


def test_an_unknown_setting_is_named(engine):
    with pytest.raises(ConfigError) as caught:
        engine(oauth2={"tennant": "x"})

    assert any(path == "accounts.m.oauth2.tennant" and "did you mean 'tenant'" in message
               for path, message in caught.value.issues)


def test_the_config_shows_no_secret(engine):
    config = engine(login="delegated").account("m").config

    assert "Client-Secret" not in repr(config) and "Refresh-Token" not in repr(config)
    assert "Client-Secret" not in repr(config.login())
