"""Helpers the bad-input tests share: a config folder, the CLI in-process and as a
process, and what the outbox holds.

Every check of a refusal looks at three things: the exit code, the message
naming the setting, option or file at fault, and the outbox left exactly as
it was (nothing half-queued).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from click.testing import CliRunner

from postroom.cli import cli

ACCOUNTS = """
[accounts.mail]
provider = "email_file"
sender = "desk@example.org"

[accounts.texts]
provider = "sms_file"
region = "GB"
"""


def write_config(folder: Path, extra: str = "", *, accounts: str = ACCOUNTS) -> Path:
    """A postroom.toml in ``folder`` with an email and an SMS account writing to files."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "postroom.toml"
    config.write_text(f'timezone = "Europe/London"\n{extra}\n{accounts}')
    return config


def run(config: Path, *args: str, stdin: str | bytes | None = None,
        env: dict[str, str] | None = None) -> tuple[int, str]:
    """``postroom --config CONFIG ARGS`` in this process: exit code and everything printed.

    Exceptions are not caught, so a traceback fails the test where it happens.
    """
    result = CliRunner(env=env).invoke(cli, ["--config", str(config), *args], input=stdin,
                                       catch_exceptions=False)
    return result.exit_code, result.output


def run_process(folder: Path, *args: str | bytes, stdin: bytes | None = None,
                env: dict[str, str] | None = None, timeout: float = 60,
                user: int | None = None) -> tuple[int, str]:
    """``python -m postroom ARGS`` as a process in ``folder`` (raw bytes allowed in ARGS)."""
    done = subprocess.run([sys.executable, "-m", "postroom", *args], cwd=folder, input=stdin,
                          env={**os.environ, **(env or {})}, capture_output=True,
                          timeout=timeout, check=False, user=user)
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "backslashreplace")


def outbox(folder: Path, name: str = "postroom.db") -> list[tuple]:
    """Every outbox row (id, account, state, not_before, lease_until), or [] with no file."""
    path = folder / name
    if not path.exists():
        return []
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT id, account, state, not_before, lease_until FROM outbox "
                          "ORDER BY seq").fetchall()
