"""Templates through the engine and the CLI: rendered per recipient, checked before queuing."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from postroom import Engine, MessageError
from postroom.cli import cli
from postroom.templating import Recipient, TemplateError

TEMPLATES = Path(__file__).parent / "fixtures" / "templates"
WHEN = datetime(2026, 3, 3, 9, 30, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture
def folder(tmp_path) -> Path:
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    (tmp_path / "postroom.toml").write_text("""
region = "GB"
[templates]
directory = "templates"
timezone = "Europe/London"
[templates.channels]
reminder = ["email", "sms"]
report_attached = ["email"]
[accounts.mail]
provider = "email_file"
sender = "desk@example.org"
[accounts.texts]
provider = "sms_file"
price_per_segment = "0.05"
""")
    return tmp_path


def queued(engine: Engine, account: str):
    from postroom.store import payload

    return [payload.load(text) for (text,) in engine.store._read(
        "SELECT payload FROM outbox WHERE account = ? ORDER BY seq", (account,))]


def test_a_template_is_rendered_for_each_recipient_and_queued(folder):
    engine = Engine.from_file(folder / "postroom.toml")
    people = [Recipient(to="ann@example.org", name="Ann", context={"note": "Bring your card."}),
              Recipient(to="bo@example.org", name="Bo", locale="fr", context={"note": "Merci."})]
    shared = {"appointment": WHEN, "clinic": "North Street", "office_phone": "01632 960000"}
    ids = engine.send("mail", template="reminder", recipients=people, context=shared)
    ann, bo = queued(engine, "mail")
    assert [ann.id, bo.id] == ids
    assert str(ann.to[0]) == "Ann <ann@example.org>"
    assert "Hello Ann," in ann.text and "Bring your card." in ann.text
    assert ann.html is not None and "-- " in ann.text  # the signature is on
    assert bo.subject != ann.subject  # the French version
    texts = engine.send("texts", template="reminder", to=["Di <07700 900123>"],
                        context={**shared, "note": "x"},
                        recipients=[Recipient(to="07700 900124", name="Cy")])
    assert len(texts) == 2
    sms = queued(engine, "texts")
    assert {m.to for m in sms} == {"+447700900123", "+447700900124"}
    assert sorted(m.text.split(",")[0] for m in sms) == ["Hi Cy", "Hi Di"]


def test_a_template_error_leaves_the_outbox_as_it_was(folder):
    engine = Engine.from_file(folder / "postroom.toml")
    engine.send("mail", to="ann@example.org", text="already queued")
    with pytest.raises(TemplateError, match=r"reminder \(text part\).*'note' is undefined"):
        engine.send("mail", template="reminder",
                    recipients=[Recipient(to="a@example.org", name="A"),
                                Recipient(to="b@example.org", name="B")],
                    context={"appointment": WHEN, "clinic": "x", "office_phone": "1"})
    with pytest.raises(MessageError):
        engine.send("texts", template="reminder", recipients=[{"to": "nonsense", "name": "X"}],
                    context={"appointment": WHEN, "clinic": "x", "note": "y"})
    assert [row.waiting for row in engine.queue()] == [1]


def test_validate_reports_a_template_missing_a_part_for_its_channel(folder):
    engine = Engine.from_file(folder / "postroom.toml")
    assert [p.severity for _, p in engine.validate()] == ["warning"]  # reminder.pt is SMS only
    (folder / "templates" / "reminder" / "sms.txt").unlink()
    errors = [(where, p) for where, p in engine.validate() if p.severity == "error"]
    assert [(where, p.field) for where, p in errors] == [("templates", "reminder")]
    assert "sms" in errors[0][1].message


def test_render_previews_every_part_with_segments_and_cost(folder, monkeypatch):
    monkeypatch.chdir(folder)
    args = ["render", "reminder", "--to", "07700 900123", "--name", "Ann",
            "--var", "clinic=North Street",
            "--var", "appointment=2026-03-03T09:30+00:00", "--var", "note=" + "x" * 150,
            "-a", "texts", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    sms = json.dumps(data)
    assert "GSM-7" in sms
    assert '"segments": 2' in sms
    assert "0.10" in sms  # two segments at 0.05
    text = CliRunner().invoke(cli, args[:-1]).output
    assert "segments" in text.lower()
    missing = CliRunner().invoke(cli, ["render", "reminder", "--channel", "email"])
    assert missing.exit_code == 2
    assert "is undefined" in missing.output


def test_send_with_a_template_from_the_cli(folder, monkeypatch):
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, [
        "send", "-a", "mail", "--template", "report_attached", "--to",
        "Dr Head <head@example.org>", "--var", "clinic=North Street", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["outcome"] == "accepted"
    (eml,) = (folder / "outbox" / "email").glob("*.eml")
    assert b"Hello Dr Head, your report is attached." in eml.read_bytes()
