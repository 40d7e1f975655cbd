"""The ``test`` and ``credits`` hooks against the fake API, and through the CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from postroom import PluginError
from postroom.cli import cli

NUMBER = "+447700900123"


def test_test_checks_the_credentials_with_the_balance(engine, api):
    diagnosis = engine.test("texts")
    assert diagnosis.ok and diagnosis.stage == "auth"
    assert diagnosis.facts["balance"] == "10.00000000 EUR, auto-reload off"
    assert (api.balance_requests, len(api.sms)) == (1, 0)


def test_test_with_a_target_sends_and_shows_id_price_and_balance(engine, api):
    diagnosis = engine.test("texts", target="07700 900123")
    assert diagnosis.ok and diagnosis.stage == "send"
    assert diagnosis.facts["message_id"] == "0C000000217B7F02"
    assert diagnosis.facts["price"] == "0.03330000 EUR"
    assert diagnosis.facts["remaining_balance"] == "9.96670000 EUR"
    assert api.sms[0]["to"] == "447700900123"


def test_a_bad_target_is_a_failed_check_not_an_error(engine):
    config = engine.account("texts").config
    diagnosis = engine.registry.hook.postroom_test(config=config, target="12")
    assert (diagnosis.ok, diagnosis.category) == (False, "invalid-target")


def test_wrong_credentials_fail_at_auth(make_engine, settings):
    diagnosis = make_engine({**settings, "api_secret": "wrong"}).test("texts")
    assert (diagnosis.ok, diagnosis.stage, diagnosis.category) == (False, "auth", "auth-failed")
    assert "api_secret" in diagnosis.hint


def test_a_demo_account_explains_the_whitelist(engine, api):
    api.whitelist = {"447700900999"}
    diagnosis = engine.test("texts", target=NUMBER)
    assert (diagnosis.ok, diagnosis.stage) == (False, "send")
    assert diagnosis.category == "non-whitelisted-destination"
    assert "demo account" in diagnosis.hint and "test numbers" in diagnosis.hint
    assert "status 29" in diagnosis.detail
    assert diagnosis.facts["balance"].startswith("10.")  # what was learned before the send


def test_an_untrusted_certificate_fails_at_tls(make_engine, settings):
    settings = {k: v for k, v in settings.items() if k != "ca_bundle"}
    diagnosis = make_engine(settings).test("texts")
    assert (diagnosis.ok, diagnosis.stage, diagnosis.category) == (False, "tls",
                                                                   "tls-untrusted")
    assert "ca_bundle" in diagnosis.hint


def test_a_missing_ca_file_named_by_the_environment_is_explained(make_engine, settings,
                                                                 tmp_path, monkeypatch):
    missing = tmp_path / "gone.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(missing))
    engine = make_engine({k: v for k, v in settings.items() if k != "ca_bundle"})
    diagnosis = engine.test("texts")
    assert (diagnosis.ok, diagnosis.stage, diagnosis.category) == (False, "tls",
                                                                   "ca-file-unusable")
    assert f"{missing}, named by REQUESTS_CA_BUNDLE, does not exist" in diagnosis.detail
    assert "REQUESTS_CA_BUNDLE" in diagnosis.hint
    with pytest.raises(PluginError, match="named by REQUESTS_CA_BUNDLE, does not exist"):
        engine.credits("texts")


def test_credits_report_balance_threshold_and_auto_reload(make_engine, settings, api):
    api.auto_reload = True
    credits = make_engine({**settings, "low_balance": 5}).credits("texts")
    assert (credits.balance, credits.unit, credits.auto_reload) == (Decimal("10.00000000"),
                                                                   "EUR", True)
    assert credits.low_threshold == Decimal(5) and not credits.is_low


def test_a_low_balance_is_flagged_by_credits_and_test(make_engine, settings, api):
    api.balance = Decimal("1.25")
    engine = make_engine({**settings, "low_balance": 2.5})
    credits = engine.credits("texts")
    assert credits.is_low and "below low_balance" in credits.detail
    diagnosis = engine.test("texts")
    assert diagnosis.ok and "below low_balance (2.5 EUR)" in diagnosis.detail


def test_credits_raise_a_readable_error(make_engine, settings):
    with pytest.raises(PluginError, match=r"cannot read the balance .* refused the credentials"):
        make_engine({**settings, "api_secret": "wrong"}).credits("texts")


def test_the_cli_test_command_shows_the_result(settings, tmp_path, monkeypatch):
    config = tmp_path / "postroom.toml"
    lines = ["[accounts.texts]"] + [f"{key} = {json.dumps(value)}"
                                    for key, value in settings.items()]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    outcome = CliRunner().invoke(cli, ["test", "texts", "--to", NUMBER, "--json"])
    assert outcome.exit_code == 0, outcome.output
    report = json.loads(outcome.output)
    assert report["ok"] and report["facts"]["price"] == "0.03330000 EUR"
    assert settings["api_secret"] not in outcome.output
