"""``postroom queue cancel`` and ``postroom queue retry``: text, --json and exit codes,
against a real outbox file and the file providers."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from postroom.cli import cli
from postroom.scheduling import Schedule
from postroom.store import SQLiteStore


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Run ``postroom`` in a folder holding a postroom.toml; one try before a message is dead."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "postroom.toml").write_text("""
region = "GB"
[delivery]
max_attempts = 1

[accounts.mail]
provider = "email_file"

[accounts.texts]
provider = "sms_file"
""")

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def other_connection(tmp_path):
    """The outbox as a worker in another process has it open."""
    store = SQLiteStore(tmp_path / "postroom.db")
    yield store
    store.close()


def queue_mail(run, *recipients: str) -> list[str]:
    ids = []
    for rcpt in recipients:
        result = run("send", "-a", "mail", "--to", rcpt, "--text", "x", "--queue", "--json")
        assert result.exit_code == 0, result.output
        ids += [row["id"] for row in json.loads(result.output)]
    return ids


def test_cancel_by_id_logs_the_reason_and_the_worker_skips_it(run, tmp_path):
    cancelled, kept = queue_mail(run, "ann@example.org", "bo@example.org")
    result = run("queue", "cancel", cancelled, "--reason", "wrong list")
    assert result.exit_code == 0, result.output
    assert f"cancelled {cancelled} (mail) to ann@example.org" in result.output
    assert "1 cancelled, 0 left as they were" in result.output
    assert "sent 1," in run("worker", "--once").output
    (eml,) = (tmp_path / "outbox" / "email").glob("*.eml")
    assert kept in eml.name
    rows = json.loads(run("log", "--status", "cancelled", "--json").output)
    assert [(r["message_id"], r["outcome"], r["text"]) for r in rows] == [
        (cancelled, "cancelled", "wrong list")]
    listing = json.loads(run("queue", "--json").output)
    assert [(a["account"], a["cancelled"], a["waiting"]) for a in listing["accounts"]] == [
        ("mail", 1, 0)]
    assert "cancelled" in run("queue").output.splitlines()[0]


def test_cancel_by_account_leaves_the_message_a_worker_holds(run, other_connection):
    held, waiting = queue_mail(run, "a@example.org", "b@example.org")
    other_connection.claim("mail", Schedule(), limit=1, lease=300,
                           worker="worker-elsewhere")  # the older one
    result = run("queue", "cancel", "--account", "mail", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert [row["message_id"] for row in data["cancelled"]] == [waiting]
    (left,) = data["left"]
    assert (left["message_id"], left["account"], left["state"]) == (held, "mail", "inflight")
    assert "sending it right now" in left["why"]
    assert other_connection.find(held).state == "inflight"
    text = run("queue", "cancel", held).output
    assert f"left {held} (mail): a worker is sending it right now" in text


def test_cancel_reports_ids_it_cannot_cancel(run):
    (mid,) = queue_mail(run, "a@example.org")
    result = run("queue", "cancel", mid, "no-such-id")
    assert result.exit_code == 1
    assert "left no-such-id: no message with this id in the outbox" in result.output
    again = run("queue", "cancel", mid, "--json")
    assert again.exit_code == 0  # cancelled already: as asked
    assert json.loads(again.output)["left"][0]["why"] == "it was cancelled already"
    nothing = run("queue", "cancel", "--account", "texts")
    assert nothing.exit_code == 0 and "nothing queued for texts to cancel" in nothing.output


@pytest.mark.parametrize("command", ["cancel", "retry"])
def test_cancel_and_retry_without_ids_or_account_are_usage_errors(run, command):
    result = run("queue", command)
    assert result.exit_code == 2
    assert "give the ids of the messages, or an account" in result.output
    result = run("queue", command, "--json")
    assert result.exit_code == 2 and "or an account" in json.loads(result.output)["error"]
    result = run("queue", command, "--account", "mial")
    assert result.exit_code == 2 and "no account named 'mial'" in result.output


def test_retry_sends_dead_messages_after_the_fix(run, tmp_path):
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where a folder should be")
    dead, _ = queue_mail(run, "ann@example.org", "bo@example.org")
    failed = run("worker", "--once")
    assert "dead 2, left 0" in failed.output
    assert failed.exit_code == 1  # messages failed for good
    assert len(json.loads(run("queue", "--json").output)["dead"]) == 2
    assert len(json.loads(run("log", "--status", "dead", "--json").output)) == 2
    blocker.unlink()
    result = run("queue", "retry", "--account", "mail", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["requeued"]) == 2 and data["left"] == [] and data["notes"] == []
    assert "sent 2," in run("worker", "--once").output
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 2
    rows = json.loads(run("log", "--status", "requeued", "--json").output)
    assert len(rows) == 2 and {r["account"] for r in rows} == {"mail"}
    sent = run("queue", "retry", dead)
    assert sent.exit_code == 1
    assert f"left {dead} (mail): it was sent: only dead messages are retried" in sent.output


def test_retry_says_when_the_account_is_paused(run, tmp_path, other_connection):
    (tmp_path / "outbox").write_text("a file where a folder should be")
    (dead,) = queue_mail(run, "ann@example.org")
    run("worker", "--once")
    other_connection.pause("mail", time.time() + 3600, "account_stopped: out of credit")
    result = run("queue", "retry", dead)
    assert result.exit_code == 0
    assert "account mail is paused until " in result.output
    assert "(account_stopped: out of credit): its messages go after that" in result.output


def test_the_queue_groups_json_flag_reaches_cancel_and_retry(run):
    (mid,) = queue_mail(run, "a@example.org")
    result = run("queue", "--json", "cancel", "-a", "mail")
    assert result.exit_code == 0, result.output
    assert [row["message_id"] for row in json.loads(result.output)["cancelled"]] == [mid]
    result = run("queue", "--json", "retry", mid)
    assert result.exit_code == 1
    assert json.loads(result.output)["left"][0]["state"] == "cancelled"
    result = run("queue", "--json", "retry")  # a usage error, as JSON too
    assert result.exit_code == 2 and "or an account" in json.loads(result.output)["error"]
    assert json.loads(run("queue", "cancel", mid, "--json").output)["left"][0]["already"]



def test_cancelling_past_a_workers_lease_warns_it_may_have_gone_and_exits_1(
        run, other_connection):
    first, second = queue_mail(run, "a@example.org", "b@example.org")
    # A worker elsewhere took both and has not been heard of since: its lease is over.
    other_connection.claim("mail", Schedule(), limit=2, lease=0, worker="slow-worker")
    caveat = ("its worker's lease ran out; if that worker is still running it may "
              "already have sent it: check `postroom log` for it")
    result = run("queue", "cancel", first)
    assert result.exit_code == 1
    assert f"cancelled {first} (mail) to a@example.org" in result.output
    assert f"  warning: {caveat}" in result.output
    assert "1 cancelled (1 may have been sent), 0 left as they were" in result.output
    result = run("queue", "cancel", second, "--json")
    assert result.exit_code == 1
    (row,) = json.loads(result.output)["cancelled"]
    assert (row["message_id"], row["state"], row["caveat"]) == (second, "inflight", caveat)
    assert other_connection.find(second).state == "cancelled"


def test_retry_of_a_queued_message_shows_it_left_and_exits_0(run):
    (mid,) = queue_mail(run, "a@example.org")
    result = run("queue", "retry", mid)
    assert result.exit_code == 0  # queued already: as asked
    assert f"left {mid} (mail): it is queued already" in result.output
    assert "0 requeued, 1 left as they were" in result.output


def test_with_the_delivery_log_off_a_cancel_logs_nothing(run, tmp_path):
    with (tmp_path / "postroom.toml").open("a") as config:
        config.write("\n[store]\nlog = false\n")
    (mid,) = queue_mail(run, "a@example.org")
    assert run("queue", "cancel", mid).exit_code == 0
    assert json.loads(run("log", "--json").output) == []
