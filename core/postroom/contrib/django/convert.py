"""Django's ``EmailMessage`` (and ``EmailMultiAlternatives``) as postroom's ``EmailMessage``.

What maps to what:

- ``to``, ``cc``, ``bcc``, ``reply_to``, ``subject``: as they are;
  ``body`` is the text (the html when ``content_subtype = "html"``);
- alternatives: ``text/html`` is the html body, any other type (a
  ``text/calendar; method=REQUEST`` invitation) an ``Alternative``;
- attachments: ``(filename, content, mimetype)`` as they are; MIME parts
  with a ``Content-ID`` (``MIMEImage`` with ``add_header("Content-ID",
  "<logo>")``) become inline images, shown by ``cid:logo`` in the html;
- extra headers: ``From`` is the sender; ``To`` and ``Cc`` are what the
  headers show while the message still goes to every address of ``to``,
  ``cc`` and ``bcc``, as Django does; ``Reply-To`` the reply address;
  ``Message-ID`` is kept; ``Date`` is dropped (the date is set when the
  message is built for sending); the rest are passed on.
"""

from __future__ import annotations

import email.message
import email.utils
import mimetypes
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage as DjangoMessage

from postroom.errors import MessageError
from postroom.messages import Alternative, Attachment, EmailMessage, InlineImage

DEFAULT_TYPE = "application/octet-stream"


def _addresses(values: Iterable[object]) -> list[str]:
    # Passed on as text: postroom's message checks them and names the field at fault.
    return [str(v) for v in values]


def _header_addresses(value: object) -> list[str]:
    """A To/Cc/Reply-To header's text, possibly several addresses, one by one."""
    return [email.utils.formataddr(pair) for pair in email.utils.getaddresses([str(value)])]


def _content(content: object, mimetype: str) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, DjangoMessage):  # message/rfc822: a Django message attached
        return content.message().as_bytes()
    if isinstance(content, email.message.Message):
        return content.as_bytes()
    return str(content).encode("utf-8")


def _mime_part(part: email.message.Message, inline: list, attachments: list) -> None:
    if part.is_multipart():
        raise MessageError("attachments", "a multipart attachment cannot be sent; attach "
                                          "its parts one by one")
    content = part.get_payload(decode=True) or b""
    kind = part.get_content_type()
    content_id = part.get("Content-ID")
    if content_id and kind.startswith("image/"):
        inline.append(InlineImage(str(content_id).strip().strip("<>"), content, kind,
                                  part.get_filename()))
    else:
        attachments.append(Attachment(part.get_filename() or "attachment", content, kind))


def _parts(message: DjangoMessage) -> tuple[list[InlineImage], list[Attachment]]:
    inline: list[InlineImage] = []
    attachments: list[Attachment] = []
    for item in message.attachments:
        if isinstance(item, email.message.Message):  # MIMEBase, or MIMEPart on Django 6
            _mime_part(item, inline, attachments)
            continue
        filename, content, mimetype = item
        mimetype = mimetype or (filename and mimetypes.guess_type(filename)[0]) or DEFAULT_TYPE
        attachments.append(Attachment(filename or "attachment", _content(content, mimetype),
                                      mimetype))
    return inline, attachments


def _bodies(message: DjangoMessage) -> tuple[str | None, str | None, list[Alternative]]:
    text = html = None
    if getattr(message, "content_subtype", "plain") == "html":
        html = message.body
    else:
        text = message.body or ""
    others = []
    for content, mimetype in getattr(message, "alternatives", ()):
        kind = mimetype.partition(";")[0].strip().lower()
        if kind == "text/html" and html is None:
            html = content.decode("utf-8") if isinstance(content, bytes) else content
        elif kind == "text/plain" and not text:
            text = content.decode("utf-8") if isinstance(content, bytes) else content
        else:
            others.append(Alternative(content, mimetype))
    return text, html, others


def _sender(message: DjangoMessage, headers: dict[str, str], mode: str) -> str | None:
    if "from" in headers:
        return headers["from"]
    if mode == "account" and message.from_email == settings.DEFAULT_FROM_EMAIL:
        return None  # the account's own sender: one place to configure it
    return str(message.from_email)


def to_postroom(message: DjangoMessage, sender_mode: str = "account") -> EmailMessage:
    """The postroom message for a Django message; ``MessageError`` names what is wrong."""
    headers = {str(name).lower(): str(value) for name, value in message.extra_headers.items()}
    names = {str(name).lower(): str(name) for name in message.extra_headers}
    if "bcc" in headers:
        raise MessageError("headers", 'Bcc is not a header; use the "bcc" argument')
    text, html, alternatives = _bodies(message)
    inline, attachments = _parts(message)
    to, cc = _addresses(message.to), _addresses(message.cc)
    envelope: list[str] = []
    if "to" in headers or "cc" in headers:
        # The headers show what the app wrote; the message goes to every recipient.
        envelope = [addr for _, addr in email.utils.getaddresses(message.recipients())]
        to = _header_addresses(headers["to"]) if "to" in headers else to
        cc = _header_addresses(headers["cc"]) if "cc" in headers else cc
    reply_to = (_header_addresses(headers["reply-to"]) if "reply-to" in headers
                else _addresses(message.reply_to))
    handled = {"from", "to", "cc", "reply-to", "date", "message-id"}
    return EmailMessage(
        to=to, cc=cc, bcc=_addresses(message.bcc), reply_to=reply_to,
        sender=_sender(message, headers, sender_mode), subject=str(message.subject),
        text=text, html=html, alternatives=alternatives, inline=inline,
        attachments=attachments, envelope=envelope, message_id=headers.get("message-id"),
        headers={names[key]: value for key, value in headers.items() if key not in handled})
