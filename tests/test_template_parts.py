"""Templates with inline images (``cid:`` links to ``_images/``) and calendar invitations."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from postroom import Engine
from postroom.templating import TemplateError

PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")
CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Riverside Clinic//EN
METHOD:REQUEST
BEGIN:VEVENT
UID:{{ booking }}@clinic.example
DTSTAMP:20260301T090000Z
DTSTART:{{ start }}
SUMMARY:Appointment with {{ doctor }}
END:VEVENT
END:VCALENDAR
"""


def folder(tmp_path: Path, html: str = '<p>Dear {{ recipient.name }}</p><img src="cid:logo.png">'
           ) -> Path:
    templates = tmp_path / "templates"
    (templates / "invite").mkdir(parents=True)
    (templates / "invite" / "subject.txt").write_text("Your appointment with {{ doctor }}")
    (templates / "invite" / "text.txt").write_text("Dear {{ recipient.name }}")
    (templates / "invite" / "html.html").write_text(html)
    (templates / "invite" / "calendar.ics").write_text(CALENDAR)
    (templates / "_images").mkdir()
    (templates / "_images" / "logo.png").write_bytes(PIXEL)
    return templates


def engine(tmp_path: Path) -> Engine:
    return Engine.from_dict({
        "store": {"path": str(tmp_path / "outbox.db")},
        "templates": {"directory": str(folder(tmp_path))},
        "accounts": {"office": {"provider": "email_file", "directory": str(tmp_path / "mail")}}})


CONTEXT = {"doctor": "Dr Okafor", "booking": "b-2291", "start": "20260303T093000Z"}


def test_a_templated_email_carries_its_images_and_invitation_to_the_mail_file(tmp_path):
    with engine(tmp_path) as chosen:
        chosen.send("office", template="invite", context=CONTEXT,
                    recipients=["Ann <ann@example.org>"])
        assert chosen.run_worker(once=True, wait=0).sent == 1
    [written] = (tmp_path / "mail").glob("*.eml")
    mime = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    [image] = [p for p in mime.walk() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<logo.png>" and image.get_content() == PIXEL
    [calendar] = [p for p in mime.walk() if p.get_content_type() == "text/calendar"]
    assert calendar.get_param("method") == "REQUEST"
    assert "SUMMARY:Appointment with Dr Okafor" in calendar.get_content()
    assert "UID:b-2291@clinic.example" in calendar.get_content()


def test_a_missing_image_is_named_when_sending_and_by_validate(tmp_path):
    with engine(tmp_path) as chosen:
        (tmp_path / "templates" / "_images" / "logo.png").unlink()
        with pytest.raises(TemplateError, match=r"cid:logo.png, and there is no _images/logo.png"):
            chosen.send("office", template="invite", context=CONTEXT,
                        recipients=["Ann <ann@example.org>"])
        assert chosen.queue() == []
        problems = [(where, p.field, p.message) for where, p in chosen.validate()]
    assert ("templates", "invite/html.html",
            "shows cid:logo.png, and there is no _images/logo.png") in problems


def test_a_calendar_that_is_no_invitation_is_a_template_error(tmp_path):
    with engine(tmp_path) as chosen:
        (tmp_path / "templates" / "invite" / "calendar.ics").write_text("SUMMARY:x")
        with pytest.raises(TemplateError, match=r"invite \(calendar part\): .*BEGIN:VCALENDAR"):
            chosen.send("office", template="invite", context=CONTEXT,
                        recipients=["Ann <ann@example.org>"])
