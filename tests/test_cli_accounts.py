"""``postroom account ...``, ``postroom queue flush``, and what ``queue`` and ``estimate``
say of modes, switches, counters and sessions: text, --json and exit codes, against a
real outbox file and the file providers."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from postroom.cli import cli

SESSION = date.today() + timedelta(days=30)  # a session to come, whenever the tests run


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "postroom.toml").write_text("""
region = "GB"
timezone = "Europe/London"

[accounts.mail]
provider = "email_file"
[accounts.mail.schedule]
mode = "manual"
daily_cap = 2

[accounts.texts]
provider = "sms_file"
[accounts.texts.schedule]
per_minute = 1
sessions = [{ date = SESSION, start = "09:00", end = "10:00" }]
""".replace("SESSION", SESSION.isoformat()))

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def queue_mail(run, count: int) -> None:
    for n in range(count):
        result = run("send", "-a", "mail", "--to", f"p{n}@example.org", "--text", "x",
                     "--queue")
        assert result.exit_code == 0, result.output


def test_flush_sends_within_the_daily_cap_and_says_what_is_left(run, tmp_path):
    queue_mail(run, 3)
    assert "note: manual sending" in run("estimate", "mail", "--count", "3").output
    assert "held: manual sending" in run("queue").output
    result = run("queue", "flush", "-a", "mail")
    assert result.exit_code == 1  # one could not go: the daily cap
    assert "mail: 3 waiting messages to go now" in result.output
    assert "sent 2, dead 0, left 1" in result.output
    assert "sent today 2 of 2" in result.output
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 2
    data = json.loads(run("queue", "flush", "-a", "mail", "--json").output)
    assert (data["flushed"], data["report"]["left"]) == (1, 1)


def test_disable_enable_and_status(run):
    queue_mail(run, 1)
    result = run("account", "disable", "mail", "--reason", "new server", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"account": "mail", "enabled": False, "changed": True}
    assert "was off already" in run("account", "disable", "mail").output
    shown = run("queue").output
    assert "mail: OFF" not in shown and "held: disabled by" in shown and "new server" in shown
    flushed = run("queue", "flush", "-a", "mail")
    assert flushed.exit_code == 2 and "enable it first" in flushed.output
    status = json.loads(run("account", "status", "--json").output)
    assert [(s["account"], s["enabled"], s["mode"]) for s in status] == [
        ("mail", False, "manual"), ("texts", True, "immediate")]
    assert "mail: OFF, manual sending, sent today 0 of 2" in run("account", "status").output
    assert run("account", "enable", "mail").output.startswith("mail: switched on")
    assert run("account", "status", "mail").output.startswith("mail: on,")


def test_reset_counter_counts_from_now(run):
    queue_mail(run, 2)
    run("queue", "flush", "-a", "mail")
    assert "2/2" in run("queue").output
    result = run("account", "reset-counter", "mail", "--json")
    counter = json.loads(result.output)["sent_today"]
    assert (counter["sent"], counter["cap"], counter["reset"]) == (0, 2, True)
    shown = run("queue").output
    assert "0/2" in shown and "sent today counted 0 of 2 since the reset at" in shown


def test_an_unknown_account_is_a_usage_error(run):
    for args in (("account", "disable", "post"), ("account", "enable", "post"),
                 ("account", "reset-counter", "post"), ("account", "status", "post"),
                 ("queue", "flush", "-a", "post")):
        result = run(*args)
        assert result.exit_code == 2, args
        assert "no account named 'post'; configured accounts: mail, texts" in result.output


def test_estimate_shows_each_session_and_day(run):
    result = run("estimate", "texts", "--count", "30")
    assert result.exit_code == 0, result.output
    day = SESSION.isoformat()
    assert f"session {day} 09:00:00 " in result.output
    assert " to 10:00:00 " in result.output and ": 60 fit, 30 of these" in result.output
    assert f"on {day}: 60 fit, 30 of these" in result.output
    too_many = run("estimate", "texts", "--count", "100")
    assert too_many.exit_code == 2
    assert "accounts.texts.schedule.sessions: only 60 of the 100 messages fit" in \
        too_many.output


def test_worker_sends_the_accounts_given_with_commas(run):
    queue_mail(run, 1)
    assert run("queue", "flush", "-a", "mail", "--no-send").exit_code == 0
    other = run("worker", "--once", "-a", "texts", "--json")
    assert json.loads(other.output)["sent"] == 0
    both = run("worker", "--once", "--accounts", "texts, mail", "--json")
    assert both.exit_code == 0 and json.loads(both.output)["sent"] == 1
    unknown = run("worker", "--once", "-a", "mail,post")
    assert unknown.exit_code == 2 and "no account named 'post'" in unknown.output


def test_send_says_why_an_account_holds_what_it_queued(run):
    run("account", "disable", "texts", "--reason", "new provider")
    result = run("send", "-a", "texts", "--to", "07700 900123", "--text", "hi")
    assert result.exit_code == 0
    assert "queued: id" in result.output
    assert "held: disabled by" in result.output and "new provider" in result.output
