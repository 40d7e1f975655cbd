"""What goes over the wire for one message: envelope addresses and MIME bytes."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import field, frozen

from postroom import Address, EmailMessage
from postroom.mime import build_mime


@frozen
class Envelope:
    """One message ready for SMTP.

    ``message_id`` is postroom's id, ``header_id`` the Message-ID header the
    recipient sees. ``recipients`` are the envelope recipients (To, Cc and Bcc,
    each once); ``data`` the MIME message with CRLF line ends.
    """

    message_id: str
    header_id: str
    sender: str
    recipients: tuple[str, ...]
    data: bytes = field(repr=lambda data: f"<{len(data)} bytes>")

    @classmethod
    def of(cls, message: EmailMessage, sender: Address,
           reply_to: Sequence[Address] = ()) -> Envelope:
        """Build the envelope of ``message`` sent as ``sender`` (the message's own sender wins)."""
        mime = build_mime(message, sender, reply_to)
        return cls(message_id=message.id, header_id=str(mime["Message-ID"]),
                   sender=(message.sender or sender).email,
                   recipients=tuple(dict.fromkeys(message.recipients)),
                   data=bytes(mime))
