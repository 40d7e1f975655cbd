"""Reading ``nexmo`` settings and the offline checks of ``validate``."""

from __future__ import annotations

import pytest

from postroom import ConfigError
from postroom.plugins import PluginRegistry
from postroom_nexmo import NexmoConfig
from postroom_nexmo.config import normalise_sender

BASE = {"provider": "nexmo", "api_key": "a1b2c3d4", "api_secret": "xyz", "sender": "Clinic"}


def config_of(engine) -> NexmoConfig:
    return engine.config.accounts["texts"].config


def test_the_installed_distribution_registers_the_provider():
    info = PluginRegistry(environ={}).providers()["nexmo"]
    assert (info.distribution, info.status) == ("postroom-nexmo", "loaded")
    assert info.hooks == ["postroom_configure", "postroom_credits", "postroom_send",
                          "postroom_test", "postroom_validate"]


def test_defaults(make_engine):
    config = config_of(make_engine(BASE))
    assert config.base_url == "https://rest.nexmo.com"
    assert config.rate_per_second == 30
    assert (config.connections, config.timeout, config.method) == (4, 10.0, "md5hash")
    assert config.region == "GB"  # the account's region, for local sender numbers
    assert "xyz" not in repr(config)


def test_the_rate_limit_reaches_the_store_and_the_tighter_one_wins(make_engine):
    assert make_engine(BASE).account("texts").schedule.per_second == 30
    slower = make_engine({**BASE, "rate_per_second": 1})
    assert slower.account("texts").schedule.per_second == 1
    lowered = make_engine({**BASE, "schedule": {"per_second": 5}})
    assert lowered.account("texts").schedule.per_second == 5
    raised = make_engine({**BASE, "schedule": {"per_second": 50, "burst": 3}})
    assert (raised.account("texts").schedule.per_second,
            raised.account("texts").schedule.burst) == (30, 3)


def test_secrets_come_from_the_environment(registry, tmp_path):
    from postroom import Engine

    engine = Engine.from_dict({"accounts": {"texts": {
        **BASE, "api_secret": {"env": "NEXMO_SECRET"}, "signature_secret": {"env": "NEXMO_SIG"},
        "signature_method": "sha256"}}}, base_dir=tmp_path, registry=registry,
        environ={"NEXMO_SECRET": "from-env", "NEXMO_SIG": "sig-env"})
    config = config_of(engine)
    assert (config.api_secret.reveal(), config.signature_secret.reveal()) == ("from-env",
                                                                              "sig-env")
    assert "from-env" not in repr(config) and "sig-env" not in repr(config)


@pytest.mark.parametrize(("sender", "region", "sent_as"), [
    ("Clinic", None, "Clinic"),
    ("Dr Lee 24", None, "Dr Lee 24"),
    ("+44 7700 900123", None, "447700900123"),
    ("07700 900123", "GB", "447700900123"),
    ("12345", None, "12345"),  # a short code
])
def test_sender_forms(sender, region, sent_as):
    assert normalise_sender(sender, region) == sent_as


@pytest.mark.parametrize(("sender", "complaint"), [
    ("Riverside Clinic", "at most 11"),
    ("Café", "letters A-Z"),
    ("07700 900123", "country code"),
    ("1234567890123456", "at most 15"),
    ("", "letters A-Z"),
])
def test_bad_senders_are_refused_with_the_reason(sender, complaint):
    with pytest.raises(ValueError, match=complaint):
        normalise_sender(sender, None)


def test_setting_errors_name_the_setting(make_engine):
    with pytest.raises(ConfigError) as caught:
        make_engine({**BASE, "sender": "Riverside Clinic"})
    assert "accounts.texts.sender" in str(caught.value)
    with pytest.raises(ConfigError, match=r"accounts\.texts\.rate_per_second: expected a number "
                                          "above 0"):
        make_engine({**BASE, "rate_per_second": 0})
    with pytest.raises(ConfigError, match=r"accounts\.texts\.base_url"):
        make_engine({**BASE, "base_url": "rest.nexmo.com"})
    with pytest.raises(ConfigError, match=r"accounts\.texts\.signature_method: expected one of"):
        make_engine({**BASE, "signature_method": "sha384"})
    with pytest.raises(ConfigError, match="did you mean 'api_secret'"):
        make_engine({**BASE, "api_secrets": "x"})


@pytest.mark.parametrize("base_url", ["https://u53r:pa55word@rest.nexmo.com",
                                      "https://u53r@rest.nexmo.com",
                                      "https://:pa55word@rest.nexmo.com",
                                      "u53r:pa55word@rest.nexmo.com"])
def test_a_login_in_base_url_is_refused_without_being_echoed(make_engine, base_url):
    with pytest.raises(ConfigError) as caught:
        make_engine({**BASE, "base_url": base_url})
    said = str(caught.value)
    assert "accounts.texts.base_url" in said
    assert "pa55word" not in said and "u53r" not in said
    if base_url.startswith("https://"):
        assert "put the credentials in api_key and api_secret" in said


def problems(engine) -> dict[str, str]:
    return {p.field: p.severity for _, p in engine.validate()}


def test_a_plain_config_has_no_problems(make_engine):
    assert problems(make_engine(BASE)) == {}


def test_validate_finds_contradictions(make_engine, tmp_path):
    found = problems(make_engine({
        **BASE, "base_url": "http://sms.example.org", "ca_bundle": "missing.pem",
        "signature_method": "sha256", "rate_per_second": 50,
        "receipt_url": "https://app.example.org/receipts"}))
    assert found == {"base_url": "error", "ca_bundle": "error", "signature_method": "warning",
                     "rate_per_second": "warning", "receipt_url": "warning"}


def test_plain_http_to_loopback_is_only_a_warning(make_engine):
    assert problems(make_engine({**BASE, "base_url": "http://127.0.0.1:8080"})) == {
        "base_url": "warning"}


def test_signed_receipts_silence_the_receipt_warning(make_engine):
    assert problems(make_engine({**BASE, "signature_secret": "s", "signature_method": "sha512",
                                 "receipt_url": "https://app.example.org/r"})) == {}
