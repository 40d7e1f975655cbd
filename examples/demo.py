"""postroom's main job on the embedded providers: no server, no credentials.

Renders an appointment reminder from a template for two patients, by email
and by SMS, queues the messages durably, lets the worker deliver them, and
shows where each landed and what the delivery log recorded. ``make demo``.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from postroom import Engine
from postroom.templating import Recipient

HERE = Path(__file__).parent
LONDON = ZoneInfo("Europe/London")


def main() -> None:
    engine = Engine.from_file(HERE / "postroom.toml")
    for where, problem in engine.validate():
        print(f"{problem.severity}: {where}.{problem.field}: {problem.message}")

    shared = {"doctor": "Dr Okafor", "office_phone": "+44 1632 960123"}
    patients = [
        Recipient(to="ann.lee@example.org", name="Ann Lee",
                  context={"appointment": datetime(2026, 3, 3, 9, 30, tzinfo=LONDON)}),
        Recipient(to="raj.patel@example.org", name="Raj Patel",
                  context={"appointment": datetime(2026, 3, 3, 11, 0, tzinfo=LONDON)}),
    ]
    phones = [Recipient(to="07700 900123", name="Ann", context=patients[0].context),
              Recipient(to="07700 900456", name="Raj", context=patients[1].context)]

    # send() renders and queues durably; the worker delivers within each schedule.
    mail_ids = engine.send("office", template="appointment_reminder", recipients=patients,
                           context=shared)
    sms_ids = engine.send("texts", template="appointment_reminder", recipients=phones,
                          context=shared)
    report = engine.run_worker(once=True)
    print(f"worker: {report.sent} sent, {report.dead} dead, {report.left} left\n")

    for message_id in mail_ids:
        (entry,) = engine.log(message_id=message_id)
        eml = Path(entry.info["path"])
        parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        print(f"email {entry.outcome}: {parsed['To']} - {parsed['Subject']!r}")
        print(f"  landed in {eml}")
    print()
    lines = {json.loads(line)["id"]: json.loads(line)
             for line in (HERE / "outbox" / "sms.jsonl").read_text().splitlines()}
    for message_id in sms_ids:
        (entry,) = engine.log(message_id=message_id)
        record = lines[message_id]
        print(f"sms {entry.outcome}: {record['to']} from {record['from']!r}: {record['text']}")
    print(f"  appended to {HERE / 'outbox' / 'sms.jsonl'}\n")

    preview = engine.preview("appointment_reminder", account="texts",
                             context={**shared, **phones[0].context}, recipient=phones[0])
    print(preview.as_text())
    print(f"\ndelivery log: {engine.config.store.path}\n"
          f"  see it with: postroom --config {HERE / 'postroom.toml'} log")


if __name__ == "__main__":
    main()
