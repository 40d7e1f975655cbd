"""The postroom command: output, --json, exit codes, and no secret in any of it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from postroom.cli import cli

SECRET = "S3CRET-zebra-7731"


@pytest.fixture
def run(installed, tmp_path, monkeypatch):
    """Run ``postroom`` in a folder holding a postroom.toml, with echo installed."""
    installed("postroom-echo", {"echo": "postroom_echo"})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ECHO_SECRET", SECRET)
    (tmp_path / "postroom.toml").write_text(f"""
region = "GB"
[accounts.desk]
provider = "echo"
host = "echo.example.org"
sender = "desk@example.org"
api_secret = {{ env = "ECHO_SECRET" }}

[accounts.mail]
provider = "email_file"
sender = "office@example.org"

[accounts.texts]
provider = "sms_file"

[accounts.literal]
provider = "echo"
host = "echo.example.org"
sender = "desk@example.org"
api_secret = "{SECRET}"
""")

    def invoke(*args: str, stdin: str | None = None):
        return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)

    return invoke


def test_plugins_lists_builtins_and_installed(run):
    result = run("plugins")
    assert result.exit_code == 0
    assert "email_file" in result.output and "built-in" in result.output
    assert "postroom-echo 1.0" in result.output
    rows = json.loads(run("plugins", "--json").output)
    echo = next(r for r in rows if r["providers"] == ["echo"])
    assert echo["status"] == "loaded"
    assert echo["hooks"] == ["postroom_configure", "postroom_credits", "postroom_send",
                             "postroom_test", "postroom_validate"]


def test_plugins_shows_a_broken_plugin_with_its_import_error(run, installed):
    installed("acme-sms", {"acme": "acme_broken"}, modules={"acme_broken": "raise ImportError("
                                                            "'needs libacme 2')\n"})
    result = run("plugins")
    assert result.exit_code == 1
    assert "acme-sms 1.0" in result.output and "broken" in result.output
    assert "ImportError: needs libacme 2" in result.output
    assert "postroom-echo 1.0" in result.output


def test_validate_reports_and_exits(run, tmp_path):
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert "4 accounts checked, 0 errors, 0 warnings" in result.output
    (tmp_path / "postroom.toml").write_text('[accounts.x]\nprovider = "email_file"\nsender = 5\n')
    result = run("validate")
    assert result.exit_code == 2
    assert "accounts.x.sender: expected text, got 5" in result.output


def test_test_prints_the_stage_and_hint_and_fails_with_1(run):
    ok = run("test", "desk", "--to", "me@example.org")
    assert ok.exit_code == 1  # the echo provider only accepts the secret "right"
    assert "FAILED at auth [auth-failed]" in ok.output
    assert "what to do:    check api_secret" in ok.output
    data = json.loads(run("test", "mail", "--json").output)
    assert data["ok"] is True and data["stage"] == "write"


def test_send_email_and_sms(run, tmp_path):
    result = run("send", "-a", "mail", "--to", "ann@example.org", "--subject", "Hi",
                 "--text", "-", stdin="Body from stdin\n")
    assert result.exit_code == 0, result.output
    (eml,) = (tmp_path / "outbox" / "email").glob("*.eml")
    assert b"Body from stdin" in eml.read_bytes()
    data = json.loads(run("send", "-a", "texts", "--to", "07700 900123", "--to",
                          "+33612345678", "--text", "hi", "--json").output)
    assert [r["outcome"] for r in data] == ["accepted", "accepted"]
    lines = (tmp_path / "outbox" / "sms.jsonl").read_text().splitlines()
    assert [json.loads(line)["to"] for line in lines] == ["+447700900123", "+33612345678"]


def test_send_delivers_its_own_messages_not_the_accounts_backlog(run, tmp_path):
    for i in range(5):
        queued = run("send", "-a", "mail", "--to", f"bulk{i}@example.org", "--text", "x",
                     "--queue")
        assert queued.exit_code == 0 and "queued: id" in queued.output
    result = run("send", "-a", "mail", "--to", "boss@example.org", "--text", "now", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["outcome"] == "accepted" and row["recipient"] == "boss@example.org"
    (eml,) = (tmp_path / "outbox" / "email").glob("*.eml")  # the backlog is the workers'
    assert row["id"] in eml.name
    (mail,) = [r for r in json.loads(run("queue", "--json").output)["accounts"]
               if r["account"] == "mail"]
    assert (mail["waiting"], mail["sent"]) == (5, 1)


def test_send_failures_and_usage_errors_have_their_exit_codes(run):
    failed = run("send", "-a", "desk", "--to", "permanent@example.org", "--text", "x")
    assert failed.exit_code == 1
    assert "permanent: permanent@example.org (id " in failed.output
    assert ") 550 no such user" in failed.output
    bad = run("send", "-a", "desk", "--to", "ann@example.org", "--subject", "a\nBcc: x@y.org",
              "--text", "x")
    assert bad.exit_code == 2 and "subject" in bad.output and "line break" in bad.output
    assert run("send", "-a", "nope", "--to", "a@example.org", "--text", "x").exit_code == 2
    assert run("send", "-a", "texts", "--to", "07700 900123", "--subject", "x",
               "--text", "x").exit_code == 2
    assert run("send", "--to", "x").exit_code == 2  # click: missing --account


def test_credits(run):
    data = json.loads(run("credits", "desk", "--json").output)
    assert data["credits"]["balance"] == "10.0" and data["low"] is False
    assert "has no credit balance" in run("credits", "mail").output


def test_no_command_output_ever_contains_a_secret(run, tmp_path):
    commands = [
        ["plugins"], ["validate"], ["test", "desk"], ["test", "literal", "--to", "a@example.org"],
        ["send", "-a", "desk", "--to", "ann@example.org", "--text", "x"],
        ["send", "-a", "desk", "--to", "transient@example.org", "--text", "x"],
        ["send", "-a", "literal", "--to", "permanent@example.org", "--text", "x"],
        ["credits", "desk"], ["credits", "literal"],
    ]
    outputs = []
    for args in commands:
        for extra in ([], ["--json"]):
            outputs.append(run(*args, *extra).output)
    # And when the config is broken around the secret.
    text = (tmp_path / "postroom.toml").read_text()
    (tmp_path / "postroom.toml").write_text(text.replace('host = "echo.example.org"',
                                                         "port = 0", 1))
    outputs.append(run("validate").output)
    assert all(SECRET not in output for output in outputs)
    assert len(outputs) == len(commands) * 2 + 1


def test_log_filters_by_any_outcome_the_log_holds(run):
    run("send", "-a", "desk", "--to", "permanent@example.org", "--text", "x")
    run("send", "-a", "desk", "--to", "ann@example.org", "--text", "y")
    rows = json.loads(run("log", "--status", "permanent", "--json").output)
    assert [r["recipient"] for r in rows] == ["permanent@example.org"]
    assert json.loads(run("log", "--status", "skipped", "--json").output) == []
    assert "no log entries" in run("log", "--status", "delivered").output
