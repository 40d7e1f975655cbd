"""Reading the settings: credentials, sender, limits, and what validate finds offline."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import postroom_sms_credit
from postroom import ConfigError, SmsMessage
from postroom.settings import ConfigContext

TOKEN = {"token_id": "6A8F1C0D", "token_secret": "t0ken/secret+with&odd=chars"}


def configure(tmp_path: Path, region: str | None = "GB", environ=None, **settings):
    context = ConfigContext("texts", tmp_path, region, environ or {})
    return postroom_sms_credit.plugin.postroom_configure(provider="sms_credit",
                                                         settings=settings, context=context)


def issues(tmp_path: Path, **settings) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        configure(tmp_path, **settings)
    return dict(caught.value.issues)


def test_a_token_is_enough_and_the_defaults_follow_the_issue(tmp_path):
    config = configure(tmp_path, **TOKEN)
    assert config.base_url == "https://api.bulksms.com/v1"
    assert config.low_credit_threshold == Decimal(100)
    assert (config.preflight, config.chunk_size, config.resubmits) == ("refuse", 100, 1)
    assert (config.max_parts, config.sender, config.region) == (None, None, "GB")
    assert config.basic_auth() == ("6A8F1C0D", TOKEN["token_secret"])
    assert config.login == "token 6A8F1C0D"


def test_username_and_password_are_the_other_way_in(tmp_path):
    config = configure(tmp_path, username="ann", password={"env": "SMS_PASSWORD"},
                       environ={"SMS_PASSWORD": "pw"})
    assert config.basic_auth() == ("ann", "pw")
    assert config.login == "user ann"


@pytest.mark.parametrize(("settings", "path", "words"), [
    ({"token_id": "x"}, "token_secret", "required with token_id"),
    ({"password": "pw"}, "username", "required with password"),
    ({**TOKEN, "username": "ann", "password": "pw"}, "token_id", "not both"),
    ({}, "token_id", "no credentials"),
])
def test_credentials_come_as_one_whole_pair(tmp_path, settings, path, words):
    found = issues(tmp_path, **settings)
    assert words in found[path]


@pytest.mark.parametrize(("given", "expected"), [
    ("Clinic", "Clinic"),
    ("Dr Smith 2", "Dr Smith 2"),
    ("07700 900123", "+447700900123"),
    ("+44 7700 900123", "+447700900123"),
    ("447700900123", "+447700900123"),
    ("84433", "84433"),
])
def test_senders_are_normalised(tmp_path, given, expected):
    assert configure(tmp_path, **TOKEN, sender=given).sender == expected


@pytest.mark.parametrize(("given", "region", "words"), [
    ("A sender far too long", "GB", "at most 11"),
    ("Clinic!", "GB", "letters A-Z"),
    ("07700 900123", None, "region"),
])
def test_a_bad_sender_is_named(tmp_path, given, region, words):
    with pytest.raises(ConfigError) as caught:
        configure(tmp_path, region=region, **TOKEN, sender=given)
    assert words in dict(caught.value.issues)["sender"]


@pytest.mark.parametrize(("setting", "value", "words"), [
    ("preflight", "wait", '"refuse", "hold", "off"'),
    ("chunk_size", 30_001, "at most 30000"),
    ("max_parts", 256, "at most 255"),
    ("max_parts", 0, "above 0"),
    ("credits_per_segment", 0, "above 0"),
    ("low_credit_threshold", -1, "0 or more"),
    ("resubmits", 6, "at most 5"),
    ("base_url", "api.bulksms.com/v1", "API's root address"),
    ("timeout", "10", "seconds"),
])
def test_out_of_range_settings_are_named(tmp_path, setting, value, words):
    assert words in issues(tmp_path, **TOKEN, **{setting: value})[setting]


@pytest.mark.parametrize("base_url", ["https://u53r:pa55word@api.bulksms.com/v1",
                                      "https://u53r@api.bulksms.com/v1",
                                      "https://:pa55word@api.bulksms.com/v1",
                                      "u53r:pa55word@api.bulksms.com/v1"])
def test_a_login_in_base_url_is_refused_without_being_echoed(tmp_path, base_url):
    said = issues(tmp_path, **TOKEN, base_url=base_url)["base_url"]
    assert "pa55word" not in said and "u53r" not in said
    if base_url.startswith("https://"):
        assert "put the credentials in token_id and token_secret" in said


def test_amounts_may_be_written_as_numbers_or_text(tmp_path):
    config = configure(tmp_path, **TOKEN, low_credit_threshold="250.5", credits_per_segment=1.5)
    assert (config.low_credit_threshold, config.credits_per_segment) == (Decimal("250.5"),
                                                                         Decimal("1.5"))


def test_the_secret_stays_out_of_reprs(tmp_path):
    config = configure(tmp_path, **TOKEN)
    assert TOKEN["token_secret"] not in repr(config) + str(config)


def test_credits_needed_counts_parts_times_the_price_of_a_part(tmp_path):
    config = configure(tmp_path, **TOKEN, credits_per_segment="1.5")
    texts = ["x" * 160, "x" * 161, "€" * 81, "é" + "ж" * 70, "👍" * 35]
    parts = [1, 2, 2, 2, 1]  # €: two septets each; ж: UCS-2; 👍: two UTF-16 units each
    messages = [SmsMessage(to="+447700900123", text=t) for t in texts]
    assert config.credits_needed(messages) == Decimal("1.5") * sum(parts)
    assert config.credits_needed([]) == 0


def test_shortfall_is_what_is_missing_and_never_negative():
    assert postroom_sms_credit.shortfall(Decimal(250), Decimal(100)) == Decimal(150)
    assert postroom_sms_credit.shortfall(Decimal(50), Decimal(100)) == 0


def problems(config) -> dict[str, tuple[str, str]]:
    found = postroom_sms_credit.plugin.postroom_validate(config=config)
    return {p.field: (p.severity, p.message) for p in found}


def test_a_sound_config_has_no_problems(tmp_path):
    assert problems(configure(tmp_path, **TOKEN)) == {}


@pytest.mark.parametrize(("settings", "field", "severity"), [
    ({"base_url": "http://sms.example.org/v1"}, "base_url", "error"),
    ({"base_url": "http://127.0.0.1:8080/v1"}, "base_url", "warning"),
    ({"ca_bundle": "missing.pem"}, "ca_bundle", "error"),
    ({"low_credit_threshold": 0}, "low_credit_threshold", "warning"),
    ({"chunk_size": 5000}, "chunk_size", "warning"),
])
def test_validate_flags_risky_settings(tmp_path, settings, field, severity):
    assert problems(configure(tmp_path, **TOKEN, **settings))[field][0] == severity


def test_validate_advises_a_token_over_the_account_password(tmp_path):
    found = problems(configure(tmp_path, username="ann", password="pw"))
    assert found["password"][0] == "warning"
