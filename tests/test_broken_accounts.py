"""A broken account waits alone: a secret whose variable is not set (or any problem
of one account's settings) makes that account unusable, says why, and leaves
every other account and command working; its queued messages stay queued."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from hostile import outbox, run, run_process, write_config

pytestmark = pytest.mark.timeout(120)

SMTP_BACKUP = """
[accounts.backup]
provider = "smtp"
host = "127.0.0.1"
sender_email = "backup@example.org"
username = "backup"
password = { env = "BACKUP_PW" }
"""


@pytest.fixture
def config(tmp_path):
    from hostile import ACCOUNTS

    return write_config(tmp_path, "[delivery]\npoll = 0.2\n", accounts=ACCOUNTS + SMTP_BACKUP)


def test_validate_names_the_missing_secret_and_checks_the_rest(config):
    code, said = run(config, "validate")
    assert code == 2
    assert ("error: accounts.backup.password: environment variable BACKUP_PW is not set"
            in said)
    assert "3 accounts checked, 1 errors" in said
    data = json.loads(run(config, "validate", "--json")[1])
    assert data["broken"] == ["backup"] and set(data["accounts"]) == {"mail", "texts", "backup"}


def test_other_commands_work_and_test_says_why(config, tmp_path):
    assert run(config, "test", "mail")[0] == 0
    code, said = run(config, "test", "backup")
    assert code == 1
    assert "FAILED at config [invalid-config]" in said and "BACKUP_PW" in said
    assert run(config, "queue")[0] == 0
    code, said = run(config, "send", "-a", "mail", "--to", "ann@example.org", "--text", "hi")
    assert code == 0 and "accepted" in said
    code, said = run(config, "send", "-a", "backup", "--to", "ann@example.org", "--text", "x")
    assert code == 2 and "accounts.backup.password: environment variable BACKUP_PW" in said
    assert [row[1] for row in outbox(tmp_path)] == ["mail"]  # nothing for backup


def test_the_worker_sends_the_others_and_leaves_its_messages_queued(config, tmp_path):
    # Queued while the secret was there; the worker runs without it.
    code, said = run(config, "send", "-a", "backup", "--queue", "--to", "ann@example.org",
                     "--text", "later", env={"BACKUP_PW": "pw"})
    assert code == 0, said
    run(config, "send", "-a", "mail", "--queue", "--to", "bo@example.org", "--text", "x")
    code, said = run_process(tmp_path, "worker", "--once")
    assert code == 1, said  # 1: messages were left unsent (backup's)
    assert "Traceback" not in said
    assert said.count("account 'backup' cannot send until its settings are fixed") == 1
    assert sorted((row[1], row[2]) for row in outbox(tmp_path)) == [("backup", "queued"),
                                                                   ("mail", "sent")]
    code, said = run(config, "queue")
    assert "cannot send until its settings are fixed" in said and "BACKUP_PW" in said


def warnings_of_a_running_worker(folder, seconds: float = 2.0) -> str:
    """What ``postroom worker`` (polling every 0.2 s) says from its first line on, for
    ``seconds`` more: ten polls and more."""
    worker = subprocess.Popen([sys.executable, "-m", "postroom", "worker"], cwd=folder,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        first = worker.stdout.readline().decode()
        time.sleep(seconds)
    finally:
        worker.send_signal(signal.SIGTERM)
        said = first + worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, said
    return said


def test_a_running_worker_says_it_once_not_every_poll(config, tmp_path):
    run(config, "send", "-a", "backup", "--queue", "--to", "ann@example.org", "--text", "x",
        env={"BACKUP_PW": "pw"})
    said = warnings_of_a_running_worker(tmp_path)
    assert said.count("cannot send until its settings are fixed") == 1, said


def test_messages_of_an_account_this_config_lacks_are_named_once(tmp_path):
    first = write_config(tmp_path / "a", accounts="""
[accounts.office]
provider = "email_file"
[store]
path = "../postroom.db"
""")
    run(first, "send", "-a", "office", "--queue", "--to", "ann@example.org", "--text", "x")
    write_config(tmp_path, "[delivery]\npoll = 0.2\n")  # mail and texts, no office
    said = warnings_of_a_running_worker(tmp_path)
    assert said.count("account 'office', which this config does not have") == 1, said
    assert [row[2] for row in outbox(tmp_path)] == ["queued"]


def test_a_strict_load_refuses_the_whole_file(config):
    from postroom import ConfigError, Engine

    with pytest.raises(ConfigError, match=r"accounts\.backup\.password"):
        Engine.from_file(config, environ={}, strict=True)
    assert set(Engine.from_file(config, environ={}).config.broken) == {"backup"}
