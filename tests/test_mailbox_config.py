"""The mailbox settings: structured strictly, checked offline, inherited TLS settings."""

from __future__ import annotations

import pytest

from postroom import ConfigError, Engine

MAILBOX = {"host": "imap.example.org", "username": "desk", "password": {"env": "MAILBOX_PW"}}


def engine(tmp_path, **mailbox) -> Engine:
    config = {"accounts": {"desk": {"provider": "email_file", "mailbox": {**MAILBOX, **mailbox}}}}
    return Engine.from_dict(config, base_dir=tmp_path, environ={"MAILBOX_PW": "s3cret-Box"},
                            strict=True)


def test_defaults(tmp_path):
    settings = engine(tmp_path).account("desk").mailbox

    assert (settings.protocol, settings.security, settings.server_port, settings.folder) == (
        "imap", "ssl", 993, "INBOX")
    assert engine(tmp_path, protocol="pop3", security="starttls").account(
        "desk").mailbox.server_port == 110
    assert "s3cret-Box" not in repr(settings)


def test_a_wrong_setting_is_named_with_its_path(tmp_path):
    with pytest.raises(ConfigError) as caught:
        engine(tmp_path, protocol="smtp", prot="imap")

    paths = {path for path, _ in caught.value.issues}
    assert paths == {"accounts.desk.mailbox.protocol", "accounts.desk.mailbox.prot"}


def test_validate_warns_of_plain_text_and_a_missing_ca_file(tmp_path):
    found = {(where, p.severity, p.field) for where, p in engine(
        tmp_path, security="none", tls_ca_file="missing.pem").validate()}

    assert found == {("accounts.desk", "warning", "mailbox.security"),
                     ("accounts.desk", "error", "mailbox.tls_ca_file")}


def test_an_account_without_a_mailbox_is_a_config_error(tmp_path):
    config = {"accounts": {"desk": {"provider": "email_file"}}}
    plain = Engine.from_dict(config, base_dir=tmp_path, environ={})

    with pytest.raises(ConfigError, match="no incoming mailbox"):
        plain.check_mailbox("desk")
    assert plain.inbox() == []
