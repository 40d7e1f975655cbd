"""Turning an ``EmailMessage`` into the MIME message that goes on the wire.

Built with the ``email.mime`` classes (the compat32 API, as Django does)
rather than ``email.message.EmailMessage``: the newer API parses every header
it is given again and costs about five times as much per message, which
matters when a batch is thousands of messages long.
"""

from __future__ import annotations

import email.charset
import email.encoders
import email.policy
import email.utils
import functools
from collections.abc import Sequence
from email.header import Header
from email.message import Message as MimeMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from postroom.addresses import Address, ascii_email
from postroom.messages import Alternative, EmailMessage, InlineImage

# CRLF line ends, as SMTP wants them.
POLICY = email.policy.compat32.clone(linesep="\r\n")
# Quoted-printable keeps mostly-ASCII text readable in the raw message.
UTF8 = email.charset.Charset("utf-8")
UTF8.body_encoding = email.charset.QP
US_ASCII = email.charset.Charset("us-ascii")
MAX_LINE = 998  # RFC 5322: longer lines must be encoded


@functools.lru_cache(maxsize=256)  # the account's own From is the same in every message
def format_address(address: Address) -> str:
    """``Name <addr>`` with the name RFC 2047-encoded when it is not ASCII."""
    return email.utils.formataddr((address.name, ascii_email(address.email)), "utf-8")


def _header_text(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


@functools.cache
def _ascii_part_headers(subtype: str) -> tuple[tuple[str, str], ...]:
    # What MIMEText writes for 7-bit text, whatever the text: worked out once.
    return tuple(MIMEText("", subtype, "us-ascii").items())


def _text_part(body: str, subtype: str) -> MimeMessage:
    plain = body.isascii() and all(len(line) <= MAX_LINE for line in body.splitlines())
    if not plain:
        return MIMEText(body, subtype, UTF8)
    # 7-bit text goes as it is, under headers that do not depend on it: the part
    # MIMEText would make, without its charset handling (half the cost of a message).
    part = MIMEText.__new__(MIMEText)
    MimeMessage.__init__(part)
    part._headers = list(_ascii_part_headers(subtype))
    part._payload, part._charset = body, US_ASCII
    return part


def _binary_part(content_type: str, content: bytes) -> MIMEBase:
    maintype, _, subtype = content_type.partition("/")
    part = MIMEBase(maintype, subtype)
    part.set_payload(content)
    email.encoders.encode_base64(part)
    return part


def _inline_part(image: InlineImage) -> MIMEBase:
    part = _binary_part(image.content_type, image.content)
    part["Content-ID"] = f"<{image.content_id}>"
    name = image.filename
    if name:
        part.add_header("Content-Disposition", "inline",
                        filename=name if name.isascii() else ("utf-8", "", name))
    else:
        part["Content-Disposition"] = "inline"
    return part


def _alternative_part(alternative: Alternative) -> MimeMessage:
    """A further body form; the content type's parameters (``method=REQUEST``) are kept."""
    maintype, _, subtype = alternative.mime_type.partition("/")
    content = alternative.content
    if maintype == "text":
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        part = _text_part(text, subtype)
    else:
        part = _binary_part(alternative.mime_type,
                            content.encode("utf-8") if isinstance(content, str) else content)
    for param in alternative.content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip():
            part.set_param(key.strip(), value.strip().strip('"'))
    return part


def _html_part(message: EmailMessage) -> MimeMessage:
    """The html body, with its inline images beside it in multipart/related."""
    html = _text_part(message.html or "", "html")
    if not message.inline:
        return html
    related = MIMEMultipart("related")
    related.attach(html)
    for image in message.inline:
        related.attach(_inline_part(image))
    return related


def _body(message: EmailMessage) -> MimeMessage:
    forms = []
    if message.text is not None:
        forms.append(_text_part(message.text, "plain"))
    if message.html is not None:
        forms.append(_html_part(message))
    forms.extend(_alternative_part(a) for a in message.alternatives)
    if len(forms) == 1:
        return forms[0]
    # Simplest first: mail programs show the last form they can.
    body = MIMEMultipart("alternative")
    for form in forms:
        body.attach(form)
    return body


def build_mime(
    message: EmailMessage,
    sender: Address,
    reply_to: Sequence[Address] = (),
) -> MimeMessage:
    """Build the MIME message: headers, text with html and other alternatives,
    inline images beside the html (multipart/related), attachments.

    ``sender`` is the From address (the message's own ``sender`` wins when
    set); ``reply_to`` the account's default Reply-To when the message has none.
    The Message-ID is made from postroom's message id, so a log entry and the
    mail a recipient forwards can be matched. ``bytes(result)`` or
    ``result.as_bytes(policy=POLICY)`` gives the wire form.
    """
    sender = message.sender or sender
    mime = _body(message)
    if message.attachments:
        mixed = MIMEMultipart("mixed")
        mixed.attach(mime)
        for attachment in message.attachments:
            part = _binary_part(attachment.content_type, attachment.content)
            name = attachment.filename
            part.add_header("Content-Disposition", "attachment",
                            filename=name if name.isascii() else ("utf-8", "", name))
            mixed.attach(part)
        mime = mixed
    mime.policy = POLICY
    mime["From"] = format_address(sender)
    if message.to:
        mime["To"] = ", ".join(format_address(a) for a in message.to)
    if message.cc:
        mime["Cc"] = ", ".join(format_address(a) for a in message.cc)
    replies = message.reply_to or tuple(reply_to)
    if replies:
        mime["Reply-To"] = ", ".join(format_address(a) for a in replies)
    mime["Subject"] = _header_text(message.subject)
    mime["Date"] = email.utils.formatdate(localtime=True)
    mime["Message-ID"] = message.message_id or header_message_id(message.id, sender)
    for name, value in message.headers.items():
        mime[name] = _header_text(value)
    return mime


def header_message_id(message_id: str, sender: Address) -> str:
    """The Message-ID header of postroom's message ``message_id`` sent as ``sender``."""
    return f"<{message_id}@{ascii_email(sender.email).rpartition('@')[2]}>"


def message_id_of(header: str) -> str | None:
    """postroom's message id inside a Message-ID header (``header_message_id``'s inverse).

    A bounce or reply names the original by this header; the id is its
    local part. ``None`` for a header that is not ``<local@domain>``.
    """
    local, at, domain = header.strip().removeprefix("<").removesuffix(">").rpartition("@")
    return local if at and local and domain else None
