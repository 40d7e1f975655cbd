"""The messages an application sends: ``EmailMessage`` and ``SmsMessage``.

Both are checked when they are made, so a bad address, a local phone number
without a region or a line break in a header fails in the caller's code, with
the field named, rather than later in a worker.

Beside text and html an email may carry ``inline`` images, shown by the html
body through ``cid:`` links, and ``alternatives`` such as a calendar
invitation (``Alternative.calendar(ics)``), which mail programs offer to add
to the calendar.
"""

from __future__ import annotations

import mimetypes
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from attrs import field, frozen

from postroom.addresses import (
    Address,
    check_header_text,
    email_address,
    phone_number,
    split_addresses,
)
from postroom.errors import MessageError
from postroom.files import UnreadableFile, read_regular_file

Channel = Literal["email", "sms"]

MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024
"""Largest file ``Attachment.from_path`` reads unless told otherwise; an account's
``max_message_size`` is usually far smaller."""

# Headers built from the message's own fields; an extra header of the same name
# would double them, or (Bcc) show every recipient the blind copies.
WRITTEN_HEADERS = {
    "from": "set sender (or the account's sender) instead",
    "sender": "set sender (or the account's sender) instead",
    "to": "use to instead", "cc": "use cc instead",
    "bcc": "use bcc instead: it is never written into the message",
    "reply-to": "use reply_to instead", "subject": "use subject instead",
    "date": "it is set when the message is built",
    "message-id": "set message_id instead (it is made from the message id by default)",
    "mime-version": "it is set by the MIME builder",
    "content-type": "it follows from text, html and attachments",
    "content-transfer-encoding": "it follows from the body",
}


def new_message_id() -> str:
    """A fresh, unguessable message id."""
    return uuid.uuid4().hex


def _checked(field_name: str, check, value):
    try:
        return check(value)
    except MessageError as exc:
        raise MessageError(field_name, exc.message) from None
    except ValueError as exc:
        raise MessageError(field_name, str(exc)) from None


def _addresses(field_name: str, value: str | Address | Iterable[str | Address] | None):
    """Every address given: a text may list several (``a@example.org, b@example.org``),
    and a list may hold such texts; none is dropped. A blank text is refused."""
    if value is None:
        return ()
    if isinstance(value, str | Address):
        value = [value]
    entries = [entry for item in value
               for entry in ((split_addresses(item) or [item]) if isinstance(item, str)
                             else [item])]
    return tuple(_checked(field_name, Address.parse, entry) for entry in entries)


@frozen
class Attachment:
    """A file to attach: its name, bytes and MIME type."""

    filename: str
    content: bytes = field(repr=lambda b: f"<{len(b)} bytes>")
    content_type: str = "application/octet-stream"

    def __attrs_post_init__(self) -> None:
        _checked("attachments.filename", lambda v: check_header_text(v, "the file name"),
                 self.filename)
        if "/" not in self.content_type:
            raise MessageError("attachments.content_type",
                               f"expected a MIME type such as 'application/pdf', "
                               f"got {self.content_type!r}")

    @classmethod
    def from_path(cls, path: str | Path, content_type: str | None = None, *,
                  max_bytes: int = MAX_ATTACHMENT_BYTES) -> Attachment:
        """Read a file to attach, guessing its type from the name when not given.

        Only a regular file of at most ``max_bytes`` is read: a folder, a pipe
        or a device (``/dev/zero``) is refused with ``MessageError``.
        """
        path = Path(path)
        try:
            content = read_regular_file(path, max_bytes)
        except UnreadableFile as exc:
            raise MessageError("attachments", f"cannot attach {path}: {exc.reason}") from None
        guessed = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(path.name, content, guessed)


def _attachment(item: Attachment | str | Path) -> Attachment:
    return item if isinstance(item, Attachment) else Attachment.from_path(item)


# What RFC 2392 allows in a Content-ID (an addr-spec), without the angle brackets:
# no spaces, no brackets, no line breaks.
_CONTENT_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]+\Z")


def _content_id(value: str) -> str:
    if not isinstance(value, str) or not _CONTENT_ID.match(value.strip("<>")):
        raise MessageError("inline.content_id",
                           f"{value!r} is not a Content-ID: use letters, digits and . - _ @ "
                           "(such as 'logo' or 'logo@clinic.example'), and cid:logo in the html")
    return value.strip("<>")


@frozen
class InlineImage:
    """An image shown inside the html body: ``<img src="cid:logo">`` for
    ``InlineImage("logo", png_bytes, "image/png")``.

    It travels beside the html in a ``multipart/related`` part with its
    ``Content-ID``, so mail programs show it without fetching anything.
    """

    content_id: str = field(converter=_content_id)
    content: bytes = field(repr=lambda b: f"<{len(b)} bytes>")
    content_type: str = "image/png"
    filename: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.content_type.startswith("image/"):
            raise MessageError("inline.content_type",
                               f"inline parts are images; {self.content_type!r} is not "
                               "(an image/... type): send it as an attachment instead")
        if self.filename is not None:
            _checked("inline.filename", lambda v: check_header_text(v, "the file name"),
                     self.filename)

    @classmethod
    def from_path(cls, path: str | Path, content_id: str | None = None) -> InlineImage:
        """Read an image file; its Content-ID is the file name unless given."""
        path = Path(path)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise MessageError("inline", f"cannot read {path}: {exc.strerror}") from None
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(content_id or path.name, content, kind, path.name)


def _content_type(value: str) -> str:
    kind = value.partition(";")[0]
    if "/" not in kind or not kind.strip().isascii() or "\n" in value or "\r" in value:
        raise MessageError("alternatives.content_type",
                           f"expected a MIME type such as 'text/calendar; method=REQUEST', "
                           f"got {value!r}")
    return value.strip()


@frozen
class Alternative:
    """Another form of the body, beside text and html: a calendar invitation
    (``text/calendar; method=REQUEST``), a ``text/x-amp-html`` part.

    ``content_type`` may carry parameters; text content is sent as UTF-8.
    """

    content: str | bytes = field(repr=lambda c: f"<{len(c)} characters>")
    content_type: str = field(converter=_content_type)

    @property
    def mime_type(self) -> str:
        """The type without its parameters: ``text/calendar``."""
        return self.content_type.partition(";")[0].strip().lower()

    @classmethod
    def calendar(cls, ics: str, method: str | None = None) -> Alternative:
        """A calendar invitation (iCalendar text), ``method`` taken from its
        ``METHOD:`` line unless given (``REQUEST`` invites, ``CANCEL`` calls off).

        Mail programs show it as an invitation with accept and decline buttons.
        """
        if not isinstance(ics, str) or "BEGIN:VCALENDAR" not in ics:
            raise MessageError("alternatives", "a calendar invitation is iCalendar text "
                                               "starting with BEGIN:VCALENDAR")
        found = re.search(r"^METHOD:(\S+)\s*$", ics, re.MULTILINE)
        written = found.group(1).upper() if found else None
        chosen = (method or written or "REQUEST").upper()
        if written is not None and written != chosen:
            raise MessageError("alternatives", f"the calendar says METHOD:{written} but "
                                               f"method={method!r} was given; make them agree")
        if not chosen.isalpha():
            raise MessageError("alternatives", f"{chosen!r} is not an iCalendar method such "
                                               "as REQUEST or CANCEL")
        return cls(ics, f"text/calendar; method={chosen}")


@frozen(kw_only=True)
class EmailMessage:
    """One email: recipients, subject, a text and/or html body, attachments.

    ``to``, ``cc``, ``bcc`` and ``reply_to`` take an address, a text listing
    several (``"Ann <ann@example.org>, bob@example.org"``, commas or
    semicolons) or a list of either; every address is kept.

    ``sender`` overrides the account's configured sender when given.
    ``headers`` adds extra header lines (``{"X-Ref": "A-12"}``). ``envelope``,
    when given, is who actually receives it; postroom sets it on the copy it
    sends again to recipients a server deferred. ``inline`` images are shown by
    the html body (``cid:``); ``alternatives`` are further forms of the body,
    such as a calendar invitation. ``message_id`` sets the Message-ID header
    (``<id@domain>``) when the app keeps its own for threading; by default it
    is made from ``id``.
    """

    to: tuple[Address, ...] = field(converter=lambda v: _addresses("to", v))
    subject: str = ""
    text: str | None = None
    html: str | None = None
    cc: tuple[Address, ...] = field(default=(), converter=lambda v: _addresses("cc", v))
    bcc: tuple[Address, ...] = field(default=(), converter=lambda v: _addresses("bcc", v))
    reply_to: tuple[Address, ...] = field(default=(),
                                          converter=lambda v: _addresses("reply_to", v))
    sender: Address | None = field(
        default=None,
        converter=lambda v: None if v is None else _checked("sender", Address.parse, v),
    )
    attachments: tuple[Attachment, ...] = field(
        default=(), converter=lambda v: tuple(_attachment(a) for a in v)
    )
    headers: Mapping[str, str] = field(factory=dict, converter=dict)
    envelope: tuple[str, ...] = field(
        default=(), converter=lambda v: tuple(_checked("envelope", email_address, a) for a in v))
    inline: tuple[InlineImage, ...] = field(default=(), converter=tuple)
    alternatives: tuple[Alternative, ...] = field(default=(), converter=tuple)
    message_id: str | None = None
    id: str = field(factory=new_message_id)

    channel = "email"

    def __attrs_post_init__(self) -> None:
        if not (self.to or self.cc or self.bcc):
            raise MessageError("to", "an email needs at least one recipient in to, cc or bcc")
        _checked("subject", lambda v: check_header_text(v, "the subject"), self.subject)
        if self.text is None and self.html is None:
            raise MessageError("text", "an email needs a text or an html body (or both)")
        for name, value in self.headers.items():
            if not name.isascii() or not name.replace("-", "").isalnum():
                raise MessageError("headers", f"{name!r} is not a valid header name; "
                                              "use letters, digits and '-' only")
            if name.lower() in WRITTEN_HEADERS:
                raise MessageError("headers", f"{name!r} is written by postroom from the "
                                              f"message; {WRITTEN_HEADERS[name.lower()]}")
            _checked(f"headers.{name}", lambda v: check_header_text(v, "the header value"), value)
        self._check_parts()

    def _check_parts(self) -> None:
        if self.inline and self.html is None:
            raise MessageError("inline", "inline images are shown by the html body, and this "
                                         "email has none: add html with <img src=\"cid:...\"> "
                                         "or send the images as attachments")
        for part in self.inline:
            if not isinstance(part, InlineImage):
                raise MessageError("inline", f"expected InlineImage objects, got {part!r}")
        ids = [image.content_id for image in self.inline]
        if len(set(ids)) != len(ids):
            raise MessageError("inline", f"two inline images share a Content-ID ({ids}); "
                                         "give each its own")
        for part in self.alternatives:
            if not isinstance(part, Alternative):
                raise MessageError("alternatives", f"expected Alternative objects, got {part!r}")
            if part.mime_type in ("text/plain", "text/html"):
                raise MessageError("alternatives", f"{part.mime_type} is the text or html body: "
                                                   "pass it as text= or html=")
        if self.message_id is not None and not re.fullmatch(r"<[^<>\s@]+@[^<>\s@]+>",
                                                            self.message_id):
            raise MessageError("message_id", f"{self.message_id!r} is not a Message-ID; write "
                                             "it as <unique-part@your.domain>")

    @property
    def recipients(self) -> list[str]:
        """Every envelope recipient: to, cc and bcc, or ``envelope`` when set (a
        retry for the recipients a server deferred, with the headers unchanged)."""
        if self.envelope:
            return list(self.envelope)
        return [a.email for a in (*self.to, *self.cc, *self.bcc)]

    @property
    def summary(self) -> str:
        """What a log shows of this message: its subject."""
        return self.subject


@frozen(kw_only=True)
class SmsMessage:
    """One text message to one phone number.

    ``to`` is normalised to E.164; a number written without its country code
    is read with ``region`` (``"GB"``). ``sender`` overrides the account's
    sender id or number.
    """

    to: str
    text: str
    sender: str | None = None
    region: str | None = field(default=None, repr=False, eq=False)
    id: str = field(factory=new_message_id)

    channel = "sms"

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "to", _checked("to", lambda v: phone_number(v, self.region),
                                                self.to))
        if not isinstance(self.text, str) or not self.text:
            raise MessageError("text", "a text message needs some text")
        if self.sender is not None:
            _checked("sender", lambda v: check_header_text(v, "the sender"), self.sender)

    @property
    def recipients(self) -> list[str]:
        return [self.to]

    @property
    def summary(self) -> str:
        """What a log shows of this message: its first characters."""
        return self.text if len(self.text) <= 40 else self.text[:39] + "…"


Message = EmailMessage | SmsMessage


def message_size(message: Message) -> int:
    """How big a message is, as ``max_message_size`` counts: an email's bodies and
    attachments in bytes (before MIME encoding), an SMS's text in characters."""
    if isinstance(message, SmsMessage):
        return len(message.text)
    bodies = sum(len(part.encode("utf-8", "surrogatepass"))
                 for part in (message.text, message.html, message.subject) if part)
    return bodies + sum(len(attachment.content) for attachment in message.attachments)
