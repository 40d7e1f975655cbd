"""What goes over the wire for one message: envelope addresses and MIME bytes."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from email.generator import BytesGenerator
from email.message import Message as MimeMessage

from attrs import field, frozen

from postroom import Address, EmailMessage
from postroom.addresses import ascii_email
from postroom.mime import build_mime


class _PlainHeadersGenerator(BytesGenerator):
    """compat32's generator, writing short plain-ASCII headers as they are.

    compat32 folds every header through ``email.header.Header``, most of the
    cost of turning a message into bytes; a header that fits on one line
    without control characters comes out of it unchanged, so it is written
    directly and only the others are folded.
    """

    def _write_headers(self, msg: MimeMessage) -> None:  # the stdlib's hook for headers
        limit = self.policy.max_line_length or 0
        linesep = self.policy.linesep
        for name, value in msg.raw_items():
            if (type(value) is str and value.isascii() and value.replace("\t", " ").isprintable()
                    and len(name) + 2 + len(value) <= limit):
                self._fp.write(f"{name}: {value}{linesep}".encode("ascii"))
            else:
                self._fp.write(self.policy.fold_binary(name, value))
        self._fp.write(linesep.encode("ascii"))


_LINE_END = re.compile(r"\r\n|\r|\n")  # what the generator takes for a line end


def wire_bytes(mime: MimeMessage) -> bytes:
    """The same bytes as ``bytes(mime)``, for a fraction of the cost."""
    out = io.BytesIO()
    generator = _PlainHeadersGenerator(out, mangle_from_=False, policy=mime.policy)
    body = mime.get_payload()
    if isinstance(body, str) and body.isascii():
        # A single part whose text is ready to go (7-bit, quoted-printable or
        # base64): the generator would write its headers and then the text
        # with each line end made the policy's; the same, without its machinery.
        generator._write_headers(mime)
        out.write(_LINE_END.sub(mime.policy.linesep, body).encode("ascii"))
    else:
        generator.flatten(mime)
    return out.getvalue()


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
        # SMTP envelopes are ASCII: internationalised domains go in their IDNA form.
        return cls(message_id=message.id, header_id=str(mime["Message-ID"]),
                   sender=ascii_email((message.sender or sender).email),
                   recipients=tuple(dict.fromkeys(map(ascii_email, message.recipients))),
                   data=wire_bytes(mime))
