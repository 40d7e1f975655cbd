"""Inline images (multipart/related, Content-ID) and calendar invitations, end to end."""

from __future__ import annotations

import email
import email.policy

import pytest
from loopback.smtp import running_smtp

from postroom import Address, Alternative, Attachment, EmailMessage, Engine, InlineImage
from postroom.errors import MessageError
from postroom.mime import build_mime
from postroom.store import payload

# The smallest valid PNG: a 1x1 transparent pixel.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")
INVITE = "\r\n".join([
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Riverside Clinic//postroom//EN",
    "METHOD:REQUEST", "BEGIN:VEVENT", "UID:appt-2291@clinic.example",
    "DTSTAMP:20260301T090000Z", "DTSTART:20260303T093000Z", "DTEND:20260303T100000Z",
    "SUMMARY:Check-up with Dr Okafor", "ORGANIZER:mailto:desk@clinic.example",
    "ATTENDEE;RSVP=TRUE:mailto:ann@example.org", "END:VEVENT", "END:VCALENDAR", ""])


def invitation(**fields) -> EmailMessage:
    return EmailMessage(**{
        "to": "Ann Lee <ann@example.org>", "subject": "Your appointment",
        "text": "See you on Tuesday.",
        "html": '<p>See you on Tuesday.</p><img src="cid:logo@clinic.example">',
        "inline": [InlineImage("logo@clinic.example", PIXEL, "image/png", "logo.png")],
        "alternatives": [Alternative.calendar(INVITE)],
        "attachments": [Attachment("directions.txt", b"Turn left.", "text/plain")],
        **fields})


def parts(mime: email.message.Message) -> list[str]:
    return [part.get_content_type() for part in mime.walk()]


def check_invitation(wire: bytes) -> None:
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert parts(parsed) == ["multipart/mixed", "multipart/alternative", "text/plain",
                             "multipart/related", "text/html", "image/png", "text/calendar",
                             "text/plain"]
    image = next(p for p in parsed.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo@clinic.example>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PIXEL
    html = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    assert 'src="cid:logo@clinic.example"' in html.get_content()
    calendar = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "REQUEST"
    assert "SUMMARY:Check-up with Dr Okafor" in calendar.get_content()
    attached = [p for p in parsed.walk() if p.get_content_disposition() == "attachment"]
    assert [p.get_filename() for p in attached] == ["directions.txt"]


def test_inline_images_sit_beside_the_html_and_the_invitation_is_an_alternative():
    check_invitation(bytes(build_mime(invitation(), Address("desk@clinic.example"))))


def test_an_html_only_message_with_an_image_is_related_alone():
    message = EmailMessage(to="ann@example.org", html='<img src="cid:logo">',
                           inline=[InlineImage("logo", PIXEL)])
    parsed = email.message_from_bytes(bytes(build_mime(message, Address("d@example.org"))))
    assert parts(parsed) == ["multipart/related", "text/html", "image/png"]


def test_parts_survive_the_outbox():
    message = invitation(message_id="<thread-7@clinic.example>",
                         alternatives=[Alternative.calendar(INVITE),
                                       Alternative(b"\x00\x01", "application/x-demo")])
    again = payload.load(payload.dump(message))
    assert again == message
    assert payload.load(payload.dump(EmailMessage(to="a@example.org", text="."))).inline == ()


def test_a_message_id_of_the_apps_own_is_the_header():
    message = invitation(message_id="<thread-7@clinic.example>")
    mime = build_mime(message, Address("desk@clinic.example"))
    assert mime["Message-ID"] == "<thread-7@clinic.example>"


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"html": None}, "inline", "html body"),
    ({"inline": [InlineImage("a", PIXEL), InlineImage("a", PIXEL)]}, "inline", "share"),
    ({"alternatives": [Alternative("<p>x</p>", "text/html")]}, "alternatives", "html="),
    ({"message_id": "thread-7"}, "message_id", "<unique-part@your.domain>"),
    ({"inline": ["logo.png"]}, "inline", "InlineImage"),
])
def test_bad_parts_are_refused_naming_the_field(fields, field, words):
    with pytest.raises(MessageError) as caught:
        invitation(**fields)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_bad_content_ids_types_and_calendars_are_refused():
    with pytest.raises(MessageError, match="not a Content-ID"):
        InlineImage("logo png", PIXEL)
    with pytest.raises(MessageError, match="attachment instead"):
        InlineImage("doc", b"%PDF", "application/pdf")
    with pytest.raises(MessageError, match="BEGIN:VCALENDAR"):
        Alternative.calendar("SUMMARY:nothing")
    with pytest.raises(MessageError, match="METHOD:REQUEST but method='CANCEL'"):
        Alternative.calendar(INVITE, method="CANCEL")
    assert Alternative.calendar(INVITE.replace("METHOD:REQUEST\r\n", ""),
                                method="cancel").content_type == "text/calendar; method=CANCEL"
    with pytest.raises(MessageError, match="MIME type"):
        Alternative("x", "calendar")


def test_an_image_file_becomes_an_inline_image_named_by_its_file(tmp_path):
    (tmp_path / "logo.png").write_bytes(PIXEL)
    image = InlineImage.from_path(tmp_path / "logo.png")
    assert (image.content_id, image.content_type, image.filename) == (
        "logo.png", "image/png", "logo.png")


def test_inline_images_and_invitations_arrive_over_smtp(tmp_path):
    with running_smtp() as server:
        engine = Engine.from_dict({
            "store": {"path": str(tmp_path / "outbox.db")},
            "accounts": {"office": {"provider": "smtp", "host": server.host,
                                    "port": server.port, "security": "none",
                                    "sender_email": "desk@clinic.example"}}})
        with engine:
            engine.send("office", invitation())
            report = engine.run_worker(once=True, wait=0)
        assert report.sent == 1
        [received] = server.received
    check_invitation(received.content)
