"""Logs an operator can read: times and levels, text or JSON, from the options or [logging];
an application's own logging set-up is left alone."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys

import pytest

from postroom.logs import JsonFormatter, LoggingSettings, configure_logging, event

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR|DEBUG) "
                       r"postroom[\w.]*: .+")


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "postroom.toml").write_text("""
[store]
path = "outbox.db"
[delivery]
once_wait = 0.2
[accounts.texts]
provider = "sms_file"
path = "sms.jsonl"
region = "GB"
""")
    return tmp_path


def postroom(folder, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "postroom", "--config",
                           str(folder / "postroom.toml"), *args], capture_output=True, text=True,
                          timeout=60, check=False)


def queue_two(folder) -> None:
    done = postroom(folder, "send", "-a", "texts", "--queue", "--to", "07700 900123",
                    "--to", "07700 900124", "--text", "hi")
    assert done.returncode == 0, done.stderr


def test_the_worker_logs_text_lines_with_time_and_level_at_info(folder):
    queue_two(folder)
    done = postroom(folder, "worker", "--once")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(TEXT_LINE.match(line) for line in lines), lines
    assert sum(" INFO postroom.worker: message " in line for line in lines) == 2
    assert done.stdout.strip().startswith("sent 2, dead 0")  # the summary, not log lines


def test_json_lines_from_the_options_and_the_level_from_the_config(folder):
    queue_two(folder)
    config = folder / "postroom.toml"
    config.write_text(config.read_text() + '[logging]\nlevel = "warning"\nformat = "json"\n')
    quiet = postroom(folder, "worker", "--once")
    assert quiet.returncode == 0 and quiet.stderr == ""  # warning: no info lines
    queue_two(folder)
    done = postroom(folder, "--log-level", "debug", "worker", "--once")
    records = [json.loads(line) for line in done.stderr.splitlines()]
    attempts = [r for r in records if r.get("event") == "attempt"]
    assert len(attempts) == 2
    assert {r["level"] for r in attempts} == {"info"}
    assert all(r["time"].endswith("Z") and r["logger"] == "postroom.worker" for r in attempts)
    assert {r["outcome"] for r in attempts} == {"accepted"}
    assert len({r["batch"] for r in attempts}) == 1 and attempts[0]["batch"].startswith("b-")


def test_a_command_that_fails_to_read_its_config_still_logs_as_asked(tmp_path):
    done = subprocess.run([sys.executable, "-m", "postroom", "--config",
                           str(tmp_path / "missing.toml"), "--log-format", "json", "queue"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "no config file" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_application_that_set_up_logging_keeps_it():
    root = logging.getLogger()
    kept = (list(root.handlers), root.level)
    assert root.handlers  # pytest's own capture: an application's set-up
    assert configure_logging(level="debug", format="json") is False
    assert (list(root.handlers), root.level) == kept


def test_json_formatter_writes_the_event_fields_and_the_traceback():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("postroom.test-json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        event(logger, logging.WARNING, "account_paused", "account a paused", account="a",
              until="2026-03-04T09:00:00+00:00", level="not the record's")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("it broke")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "account_paused" and first["account"] == "a"
    assert first["level"] == "warning"  # a field never overwrites the record's own keys
    assert second["level"] == "error" and "ValueError: boom" in second["error"]


def test_logging_settings_are_read_from_the_config_strictly(folder):
    config = folder / "postroom.toml"
    config.write_text(config.read_text() + '[logging]\nformat = "xml"\n')
    done = postroom(folder, "queue")
    assert done.returncode == 2 and "logging.format" in done.stderr
    assert LoggingSettings().format == "text"


def test_switching_an_account_off_and_on_logs_who_and_why(folder):
    records = []
    for args in (("disable", "texts", "--reason", "provider migration"), ("enable", "texts")):
        done = postroom(folder, "--log-level", "info", "--log-format", "json", "account", *args)
        assert done.returncode == 0, done.stderr
        records += [json.loads(line) for line in done.stderr.splitlines()]
    off, on = (r for r in records if r.get("event", "").startswith("account_"))
    assert off["event"] == "account_disabled" and on["event"] == "account_enabled"
    assert {off["level"], on["level"]} == {"info"}
    assert off["account"] == on["account"] == "texts"
    assert off["reason"] == "provider migration" and "provider migration" in off["message"]
    assert off["by"].endswith("(command line)") and on["by"] == off["by"]
    assert off["by"] in off["message"] and on["by"] in on["message"]
