"""postroom's main job on the embedded providers: no server, no credentials.

Sends an appointment reminder by email and by SMS through the engine, then
shows where each one landed. Run it with ``make demo``.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment

from postroom import Engine

HERE = Path(__file__).parent
REMINDER = ("Dear {{ name }}, this is a reminder of your appointment with {{ doctor }} "
            "on {{ when }}. Reply to this message to rearrange.")


def main() -> None:
    engine = Engine.from_file(HERE / "postroom.toml")
    problems = engine.validate()
    for where, problem in problems:
        print(f"{problem.severity}: {where}.{problem.field}: {problem.message}")

    reminder = SandboxedEnvironment().from_string(REMINDER)
    patient = {"name": "Ann Lee", "doctor": "Dr Okafor", "when": "Tuesday 4 March at 09:30"}
    text = reminder.render(patient)

    # send() puts each message in the outbox (durably); the worker delivers them.
    (mail_id,) = engine.send("office", to="Ann Lee <ann.lee@example.org>",
                             subject="Your appointment on Tuesday", text=text)
    (sms_id,) = engine.send("texts", to="07700 900123", text=text)
    report = engine.run_worker(once=True)
    print(f"worker: {report.sent} sent, {report.failed} failed")
    (mail,) = engine.log(message_id=mail_id)
    (sms,) = engine.log(message_id=sms_id)

    eml = Path(mail.info["path"])
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    print(f"email {mail.outcome}: {parsed['To']} - {parsed['Subject']!r}")
    print(f"  landed in {eml}")
    line = Path(sms.info["path"]).read_text().splitlines()[-1]
    record = json.loads(line)
    print(f"sms {sms.outcome}: {record['to']} from {record['from']!r}")
    print(f"  appended to {sms.info['path']}")
    print(f"  text: {record['text']}")
    print(f"delivery log: {engine.config.store.path} (try: postroom --config "
          f"{HERE / 'postroom.toml'} log)")


if __name__ == "__main__":
    main()
