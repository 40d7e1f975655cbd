"""The built-in file providers: what lands on disk, and their test and validate."""

from __future__ import annotations

import email
import email.policy
import json

from postroom import EmailMessage, Engine, Outcome


def engine_for(tmp_path) -> Engine:
    return Engine.from_dict({"region": "GB", "accounts": {
        "mail": {"provider": "email_file", "sender": "desk@example.org", "sender_name": "Desk"},
        "texts": {"provider": "sms_file", "sender": "Clinic"}}}, base_dir=tmp_path, environ={})


def test_each_email_is_a_complete_eml_file(tmp_path):
    engine = engine_for(tmp_path)
    batch = [EmailMessage(to=f"p{i}@example.org", subject=f"n{i}", text="t") for i in range(3)]
    results = engine.deliver("mail", batch)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    files = sorted((tmp_path / "outbox" / "email").iterdir())
    assert len(files) == 3 and not any(f.name.startswith(".") for f in files)
    subjects = sorted(email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
                      ["Subject"] for f in files)
    assert subjects == ["n0", "n1", "n2"]
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert str(parsed["From"]) == "Desk <desk@example.org>"


def test_sms_lines_hold_sender_number_and_text(tmp_path):
    engine = engine_for(tmp_path)
    (result,) = engine.deliver("texts", [engine.message("texts", to="07700 900123",
                                                        text="Grüße €")])
    (line,) = (tmp_path / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["id"] == result.message_id
    assert (record["from"], record["to"], record["text"]) == ("Clinic", "+447700900123",
                                                              "Grüße €")


def test_test_writes_a_test_message_when_given_a_target(tmp_path):
    engine = engine_for(tmp_path)
    diagnosis = engine.test("mail", target="me@example.org")
    assert diagnosis.ok and "file" in diagnosis.facts
    assert engine.test("texts", target="07700 900123").ok
    assert "+447700900123" in (tmp_path / "outbox" / "sms.jsonl").read_text()


def test_unwritable_places_fail_test_and_validate(tmp_path):
    (tmp_path / "outbox").write_text("a file where a folder should be")
    engine = engine_for(tmp_path)
    diagnosis = engine.test("mail")
    assert not diagnosis.ok and diagnosis.category == "not-writable"
    results = engine.deliver("mail", [engine.message("mail", to="a@example.org", text="x")])
    assert results[0].outcome is Outcome.TRANSIENT
    (tmp_path / "outbox").unlink()
    (tmp_path / "outbox" / "email").mkdir(parents=True)
    (tmp_path / "outbox" / "email" / "x").write_text("")
    bad = Engine.from_dict({"accounts": {"mail": {"provider": "email_file",
                                                  "directory": "outbox/email/x"}}},
                           base_dir=tmp_path, environ={})
    ((account, problem),) = bad.validate()
    assert (account, problem.field, problem.severity) == ("accounts.mail", "directory", "error")


def test_a_config_with_an_error_is_neither_tried_nor_sent_through(tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    engine = Engine.from_dict({"accounts": {"mail": {"provider": "email_file",
                                                     "directory": "not-a-folder"}}},
                              base_dir=tmp_path, environ={})
    diagnosis = engine.test("mail")
    assert (diagnosis.ok, diagnosis.stage, diagnosis.category) == (False, "config",
                                                                   "invalid-config")
    assert diagnosis.detail.startswith("directory: ")
    (result,) = engine.deliver("mail", [engine.message("mail", to="a@example.org", text="x")])
    assert result.outcome is Outcome.ACCOUNT_STOPPED
    assert "point directory at a folder" in result.text
