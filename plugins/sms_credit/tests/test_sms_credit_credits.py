"""Credits: the estimate, the gateway's charge and the balance agree; balance and test hooks."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback.bulksms_api import as_gsm, fake_gateway, sms_parts

from postroom import PluginError
from postroom.cli import cli
from postroom.sms_text import GSM7_BASIC, GSM7_EXTENSION, segment

NUMBER = "+447700900123"
TOKEN_SECRET = "t0ken/secret+with&odd=chars"  # the fake gateway's token secret, as conftest sets

# Texts at the edges of the rules: the last character that fits, an escape
# or a surrogate pair that would straddle a part boundary, one odd character
# that turns a whole text into UCS-2.
EDGE_TEXTS = ["See you at 9.", "x" * 160, "x" * 161, "x" * 152 + "€", "x" * 153 + "€" * 10,
              "€" * 80, "€" * 81, "ж" * 70, "ж" * 71, "x" * 66 + "👍" + "ж" * 10,
              "Zaterdag 9 uur 👍", "[" * 200, "Grüße aus Köln, Straße 5",
              "x" * 152 + "€" + "x" * 152, "ж" * 66 + "👍" + "ж" * 66]


def test_estimate_charge_and_balance_drop_agree(make_engine, settings, gateway):
    gateway.credits_per_part = Decimal("1.5")
    engine = make_engine({**settings, "credits_per_segment": "1.5", "chunk_size": 4})
    messages = [engine.message("texts", to=NUMBER, text=t) for t in EDGE_TEXTS]
    config = engine.account("texts").config
    estimate = config.credits_needed(messages)
    before = engine.credits("texts").balance
    results = engine.deliver("texts", messages)
    assert all(r.ok for r in results), [r.text for r in results if not r.ok]
    after = engine.credits("texts").balance
    assert estimate == gateway.charged == before - after
    assert [int(r.info["segments"]) for r in results] == [c.parts for c in gateway.charges]


def test_the_fake_reads_gsm_as_postroom_does():
    """The fake's alphabet is written apart from postroom's; every character of
    the Basic Multilingual Plane must land on the same side in both."""
    for code in range(0x10000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF or char == "\x1b":
            continue
        fake = as_gsm(char) == char
        assert fake == (char in GSM7_BASIC or char in GSM7_EXTENSION), hex(code)


def _straddling(filler: str, wide: str, part: int):
    """Texts with a two-unit character right at a part's end, where a careless split errs."""
    return st.builds(lambda before, after: filler * before + wide + filler * after,
                     st.integers(part - 8, part + 8), st.integers(0, 2 * part))


texts = (st.text(alphabet=st.sampled_from("abc €[~^ñ\nжé👍"), max_size=700)
         | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=400)
         | _straddling("x", "€", 153) | _straddling("ж", "👍", 67))


@settings(max_examples=300, deadline=None)
@given(texts)
def test_the_fake_counts_parts_as_postroom_does(text):
    split = segment(text or "x")
    encoding = "TEXT" if split.encoding == "GSM-7" else "UNICODE"
    assert sms_parts(text or "x", encoding) == split.segments


def test_credits_report_balance_threshold_and_quota(engine, gateway):
    gateway.balance = Decimal(250)
    credits = engine.credits("texts")
    assert (credits.balance, credits.unit, credits.low_threshold) == (Decimal(250), "credits",
                                                                     Decimal(100))
    assert not credits.is_low and credits.auto_reload is None
    assert credits.detail == "250 credits remaining; daily quota: 10000 of 10000 messages left"


def test_a_low_balance_is_flagged_by_credits_and_test(make_engine, settings, gateway):
    gateway.balance = Decimal(40)
    engine = make_engine({**settings, "low_credit_threshold": 50})
    credits = engine.credits("texts")
    assert credits.is_low and "below low_credit_threshold (50 credits)" in credits.detail
    diagnosis = engine.test("texts")
    assert diagnosis.ok and "below low_credit_threshold" in diagnosis.detail


def test_credits_raise_a_readable_error(make_engine, settings):
    with pytest.raises(PluginError) as caught:
        make_engine({**settings, "token_secret": "wrong"}).credits("texts")
    assert "cannot read the credits of token fake-token-id" in str(caught.value)
    assert "refused the credentials" in str(caught.value)


def test_a_profile_that_is_no_profile_is_a_readable_error(engine, gateway):
    gateway.answer_next(200)  # a plain-text body
    with pytest.raises(PluginError, match="something other than a profile"):
        engine.credits("texts")


def test_a_secret_outside_latin1_still_logs_in(make_engine, settings, ca):
    with fake_gateway(ca, logins={"ann": "naïve-€-secret"}) as other:
        account = {**settings, "base_url": other.url, "token_id": "ann",
                   "token_secret": "naïve-€-secret"}
        assert make_engine(account).test("texts").ok


def test_test_shows_the_remaining_credits(engine, gateway):
    diagnosis = engine.test("texts")
    assert diagnosis.ok and diagnosis.stage == "auth"
    assert diagnosis.facts["balance"].startswith("1000 credits remaining")
    assert diagnosis.facts["login"] == "token fake-token-id"
    assert gateway.submissions == []


def test_test_with_a_target_sends_and_shows_the_balance_after(engine, gateway):
    diagnosis = engine.test("texts", target="07700 900123")
    assert diagnosis.ok and diagnosis.stage == "send", diagnosis
    assert diagnosis.facts["message_id"] == gateway.charges[0].message_id
    assert diagnosis.facts["to"] == NUMBER and diagnosis.facts["segments"] == "1"
    assert diagnosis.facts["balance_after"].startswith("999 credits remaining")


def test_test_fails_when_not_one_message_can_be_paid(engine, gateway):
    gateway.balance = Decimal("0.5")
    diagnosis = engine.test("texts")
    assert (diagnosis.ok, diagnosis.stage, diagnosis.category) == (False, "credits",
                                                                   "no-credits")
    assert "top up" in diagnosis.hint


@pytest.mark.parametrize(("change", "stage", "category"), [
    ({"token_secret": "wrong"}, "auth", "auth-failed"),
    ({"ca_bundle": None}, "tls", "tls-untrusted"),
])
def test_test_stops_at_the_failing_step(make_engine, settings, change, stage, category):
    account = {k: v for k, v in {**settings, **change}.items() if v is not None}
    diagnosis = make_engine(account).test("texts")
    assert (diagnosis.ok, diagnosis.stage, diagnosis.category) == (False, stage, category)
    assert diagnosis.hint


def test_a_refused_test_message_is_explained(engine, gateway):
    gateway.block(NUMBER)
    diagnosis = engine.test("texts", target=NUMBER)
    assert (diagnosis.ok, diagnosis.stage, diagnosis.category) == (False, "send", "blocked")
    assert "FAILED.BLOCKED" in diagnosis.detail and "STOP" in diagnosis.hint
    assert diagnosis.facts["balance"].startswith("1000")  # learned before the send


def test_a_bad_target_is_a_failed_check_not_an_error(engine):
    config = engine.account("texts").config
    diagnosis = engine.registry.hook.postroom_test(config=config, target="12")
    assert (diagnosis.ok, diagnosis.category) == (False, "invalid-target")


def test_the_cli_explains_a_missing_ca_file_without_a_traceback(settings, tmp_path,
                                                                 monkeypatch):
    config = tmp_path / "postroom.toml"
    lines = ["[accounts.texts]"] + [f"{key} = {json.dumps(value)}"
                                    for key, value in settings.items() if key != "ca_bundle"]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nope")
    shown = CliRunner().invoke(cli, ["credits", "texts"])
    assert shown.exit_code not in (0, None) and isinstance(shown.exception, SystemExit)
    assert "the CA file /nope, named by REQUESTS_CA_BUNDLE, does not exist" in shown.output
    assert "Traceback" not in shown.output
    tested = CliRunner().invoke(cli, ["test", "texts", "--json"])
    assert json.loads(tested.output)["category"] == "ca-file-unusable"


def test_the_cli_shows_credits_and_sends_a_test(settings, tmp_path, monkeypatch, gateway):
    config = tmp_path / "postroom.toml"
    lines = ["[accounts.texts]"] + [f"{key} = {json.dumps(value)}"
                                    for key, value in settings.items()]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    shown = CliRunner().invoke(cli, ["credits", "texts", "--json"])
    assert shown.exit_code == 0, shown.output
    assert Decimal(json.loads(shown.output)["credits"]["balance"]) == Decimal(1000)
    tested = CliRunner().invoke(cli, ["test", "texts", "--to", NUMBER])
    assert tested.exit_code == 0, tested.output
    assert "balance_after: 999 credits remaining" in tested.output
    assert TOKEN_SECRET not in shown.output + tested.output
