"""A text listing several recipients: every one is kept, or the list is refused, never cut.

``to``, ``cc``, ``bcc`` and ``reply_to`` read a list (``a@example.org,
Bob <b@example.org>``, commas or semicolons) into all its addresses; a place
for one address or one person (a sender, a template's recipient, a contact,
an SMS number) refuses a list, naming the field. The command's ``--to`` takes
lists too: each entry is one recipient.
"""

from __future__ import annotations

import email
import email.policy
import json

import pytest
from click.testing import CliRunner

from postroom import EmailMessage, Engine, MessageError, SmsMessage
from postroom.cli import cli
from postroom.notifications import Contact
from postroom.templating import Recipient


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A postroom.toml with file providers, one template and one event, as the working folder."""
    (tmp_path / "templates" / "hello").mkdir(parents=True)
    for part, text in {"subject.txt": "Hello", "text.txt": "Hello {{ recipient.to }}",
                       "sms.txt": "Hello"}.items():
        (tmp_path / "templates" / "hello" / part).write_text(text)
    (tmp_path / "postroom.toml").write_text("""
region = "GB"
[templates]
directory = "templates"
[events.notice]
template = "hello"
channels = ["email", "sms"]
[accounts.mail]
provider = "email_file"
sender = "office@example.org"
[accounts.texts]
provider = "sms_file"
""")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sent_emails(folder) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted((folder / "outbox" / "email").glob("*.eml"))]


def sent_sms(folder) -> list[str]:
    lines = (folder / "outbox" / "sms.jsonl").read_text().splitlines()
    return [json.loads(line)["to"] for line in lines]


def run(*args: str):
    return CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)


def test_a_listed_to_and_cc_keep_every_address(folder):
    engine = Engine.from_file(folder / "postroom.toml")

    engine.send("mail", to='ann@example.org, "Lee, Bo" <bo@example.org>',
                cc="cy@example.org; di@example.org", bcc=["ed@example.org, fi@example.org"],
                text="hi")
    engine.run_worker(once=True, wait=0)

    [sent] = sent_emails(folder)
    assert [a.addr_spec for a in sent["To"].addresses] == ["ann@example.org", "bo@example.org"]
    assert sent["To"].addresses[1].display_name == "Lee, Bo"
    assert [a.addr_spec for a in sent["Cc"].addresses] == ["cy@example.org", "di@example.org"]
    [entry] = engine.log()
    assert entry.recipient == ("ann@example.org, bo@example.org, cy@example.org, "
                               "di@example.org, ed@example.org, fi@example.org")


@pytest.mark.parametrize(("make", "field"), [
    (lambda: EmailMessage(to="ann@example.org", text="x",
                          sender="office@example.org, boss@example.org"), "sender"),
    (lambda: EmailMessage(to="ann@example.org, bob", text="x"), "to"),
    (lambda: EmailMessage(to="  ", text="x"), "to"),
    (lambda: SmsMessage(to="07700 900123, 07700 900124", text="x", region="GB"), "to"),
    (lambda: Recipient(to="ann@example.org, bo@example.org"), "to"),
    (lambda: Recipient.of("Ann <ann@example.org>, Bo <bo@example.org>"), "to"),
])
def test_one_address_places_refuse_a_list_naming_the_field(make, field):
    with pytest.raises(MessageError) as refused:
        make()

    assert refused.value.field == field


def test_a_templated_send_refuses_a_recipient_that_lists_several(folder):
    engine = Engine.from_file(folder / "postroom.toml")

    with pytest.raises(MessageError, match="give each of them a recipient of their own"):
        engine.send("mail", template="hello", recipients=["ann@example.org, bo@example.org"])

    assert engine.queue() == []


def test_a_contact_with_several_addresses_is_skipped_with_the_reason(folder):
    engine = Engine.from_file(folder / "postroom.toml")

    done = engine.notify("notice", [Contact(id="p1", email="ann@example.org, bo@example.org")])

    assert done.queued == []
    email_skip = next(s for s in done.skipped if s.channel == "email")
    assert email_skip.contact.label == "p1"
    assert "holds 2 addresses (ann@example.org, bo@example.org)" in email_skip.reason


def test_the_command_sends_one_email_to_a_listed_and_a_repeated_to(folder):
    result = run("send", "-a", "mail", "--to", "ann@example.org, bo@example.org",
                 "--to", "cy@example.org", "--text", "hi")

    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["outcome"] == "accepted"
    assert row["recipient"] == "ann@example.org, bo@example.org, cy@example.org"
    [sent] = sent_emails(folder)
    assert len(sent["To"].addresses) == 3


def test_the_command_renders_a_template_for_each_listed_recipient(folder):
    result = run("send", "-a", "mail", "--template", "hello",
                 "--to", "Ann <ann@example.org>, bo@example.org")

    assert result.exit_code == 0, result.output
    assert [r["recipient"] for r in json.loads(result.output)] == ["ann@example.org",
                                                                   "bo@example.org"]
    assert sorted(str(m["To"]) for m in sent_emails(folder)) == ["Ann <ann@example.org>",
                                                                 "bo@example.org"]


def test_the_command_sends_an_sms_to_each_listed_number(folder):
    result = run("send", "-a", "texts", "--to", "07700 900123, 07700 900124", "--text", "hi")

    assert result.exit_code == 0, result.output
    assert sent_sms(folder) == ["+447700900123", "+447700900124"]


def test_notify_tells_each_listed_person(folder):
    result = run("notify", "notice", "--to", "ann@example.org, 07700 900123")

    assert result.exit_code == 0, result.output
    assert [(r["to"], r["outcome"]) for r in json.loads(result.output)
            if r["outcome"] != "skipped"] == [("ann@example.org", "accepted"),
                                              ("+447700900123", "accepted")]
