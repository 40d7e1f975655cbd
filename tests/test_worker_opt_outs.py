"""A STOP that arrives while messages wait: worker processes skip them, critical ones aside."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from postroom import Engine
from postroom.notifications import Contact
from postroom.store import OptOut

CONFIG = """
region = "GB"
[accounts.texts]
provider = "sms_file"
path = "outbox/sms.jsonl"
[templates]
directory = "templates"
[events.closed]
template = "closed"
channels = ["sms"]
importance = "critical"
"""


def test_worker_processes_skip_a_number_that_opted_out_while_its_messages_waited(tmp_path):
    (tmp_path / "postroom.toml").write_text(CONFIG)
    (tmp_path / "templates" / "closed").mkdir(parents=True)
    (tmp_path / "templates" / "closed" / "sms.txt").write_text("The clinic is closed today.")
    engine = Engine.from_file(tmp_path / "postroom.toml")
    stopped, other = "+447700900123", "+447700900456"
    waiting = engine.send("texts", engine.message("texts", to=stopped, text="Reminder"),
                          engine.message("texts", to=other, text="Reminder"))
    (critical,) = engine.notify("closed", [Contact(phone=stopped)]).queued
    # The STOP comes in (through the webhook app, in another process) after they were queued.
    engine.store.set_opt_out(OptOut("sms", stopped, True, engine.clock(), "texts", "STOP"))
    env = {**os.environ, "POSTROOM_CONFIG": str(tmp_path / "postroom.toml")}
    runs = [subprocess.Popen([sys.executable, "-m", "postroom", "worker", "--once", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    reports = [json.loads(run.communicate(timeout=60)[0]) for run in runs]
    assert sum(r["sent"] for r in reports) == 2  # the other number, and the critical event
    assert sum(r["skipped"] for r in reports) == 1
    sent = [json.loads(line) for line in (tmp_path / "outbox" / "sms.jsonl").read_text()
            .splitlines()]
    assert sorted((m["to"], m["text"]) for m in sent) == [
        (stopped, "The clinic is closed today."), (other, "Reminder")]
    (skip,) = engine.log(message_id=waiting[0])
    assert skip.outcome == "skipped"
    assert skip.text.startswith(f"{stopped} opted out of sms messages")
    assert engine.store.find(waiting[0]).state == "cancelled"
    assert engine.store.find(critical[2]).state == "sent"
