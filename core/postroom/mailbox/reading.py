"""Reading one incoming message: is it a bounce, a reply, or other mail, and about what.

Bounces come in two shapes. The standard one (RFC 3464, what Postfix,
Exchange and most servers send) is a ``multipart/report;
report-type=delivery-status``: a ``message/delivery-status`` part with one
block per recipient (``Final-Recipient``, ``Action``, ``Status``,
``Diagnostic-Code``) and the original message or its headers. The older,
non-standard ones (Exim's "Mail delivery failed", qmail's "failure notice",
Exchange's "Undeliverable" text) say the same in prose followed by a copy of
the original: the recipients that failed are those of the original message
named in the prose, with the lines after them as the reason.

Either way the original is found by its ``Message-ID``; a reply names the
message it answers in ``In-Reply-To`` and ``References``.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from email.message import EmailMessage as MimeMessage
from email.message import Message

from attrs import frozen

_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_HEADER_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+@[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_REPLY_CODE = re.compile(r"\b([45]\d\d)\b")
_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery|microsoftexchange",
                            re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(r"undeliver|returned mail|delivery (status notification|"
                             r"failure|has failed)|mail delivery failed|failure notice|"
                             r"could not be delivered|delivery failure", re.IGNORECASE)
# Where a prose bounce's copy of the original begins (Exim, qmail, Postfix, Exchange, Sendmail).
_COPY_STARTS = re.compile(r"^.*(this is a copy of the message|below this line is a copy|"
                          r"original message headers|original message follows|"
                          r"undelivered message headers|returned message follows|"
                          r"----- ?original message ?-----).*$", re.IGNORECASE | re.MULTILINE)
_TEXT_LIMIT = 20_000  # characters of a message's text kept in the inbox


@frozen
class Bounce:
    """One recipient a bounce reports: ``action`` ``failed`` (or ``delayed``), the
    ``status`` code (``5.1.1``) and the server's ``reason``."""

    recipient: str
    status: str
    reason: str
    action: str = "failed"


@frozen
class Incoming:
    """What a message says, for the inbox and for matching.

    ``kind`` is ``bounce`` or ``mail`` (a reply once matched, else other);
    ``refers`` the Message-IDs it is about (a bounce: the original's; mail:
    In-Reply-To, then References); ``reports`` the recipient blocks of a
    standard bounce; ``prose`` a non-standard bounce's explanation.
    """

    sender: str
    recipient: str
    subject: str
    text: str
    received: float | None
    header_id: str
    kind: str
    refers: tuple[str, ...]
    reports: tuple[Bounce, ...] = ()
    prose: str = ""
    auto: bool = False

    @property
    def standard(self) -> bool:
        """Whether this is an RFC 3464 delivery status notification."""
        return bool(self.reports)


def _address(value: str | None) -> str:
    return email.utils.parseaddr(value or "")[1]


def _ids(*values: str | None) -> list[str]:
    found: list[str] = []
    for value in values:
        found += [i for i in _MESSAGE_ID.findall(value or "") if i not in found]
    return found


def _text(message: Message) -> str:
    body = message.get_body(preferencelist=("plain", "html")) if isinstance(
        message, MimeMessage) else None
    if body is None:
        return ""
    try:
        text = body.get_content()
    except (LookupError, ValueError):
        text = body.get_payload(decode=True).decode("utf-8", "replace")
    if body.get_content_type() == "text/html":
        text = re.sub(r"<[^>]+>", " ", text)
    return text.strip()[:_TEXT_LIMIT]


def _field(block: Message, name: str) -> str:
    value = " ".join(str(block.get(name, "")).split())
    return value.partition(";")[2].strip() if ";" in value else value


def _reports(message: Message) -> tuple[list[Bounce], list[str]]:
    """The recipient blocks of a delivery-status part, and the original's Message-IDs."""
    reports, originals = [], []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            for block in part.get_payload():
                recipient = _field(block, "Final-Recipient") or _field(
                    block, "Original-Recipient")
                if not recipient:
                    continue  # the per-message block
                status = _field(block, "Status")
                reports.append(Bounce(recipient, status, _field(block, "Diagnostic-Code")
                                      or status, _field(block, "Action").lower() or "failed"))
        elif kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) else inner
            originals += _ids(inner.get("Message-ID"))
        elif kind == "text/rfc822-headers":
            originals += _ids(*_HEADER_ID.findall(part.get_content()))
    return reports, originals


def _looks_like_a_bounce(message: Message) -> bool:
    return (message.get("Return-Path", "").strip() == "<>"
            or (bool(_BOUNCE_SENDER.search(message.get("From", "")))
                and bool(_BOUNCE_SUBJECT.search(message.get("Subject", "")))))


def read_incoming(raw: bytes) -> Incoming:
    """Read ``raw`` (a whole message as it arrived)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    dated = email.utils.parsedate_to_datetime(message["Date"]) if message["Date"] else None
    text = _text(message)
    auto = message.get("Auto-Submitted", "no").strip().lower() != "no"
    common = {"sender": _address(message.get("From")), "recipient": _address(message.get("To")),
              "subject": str(message.get("Subject", "")), "text": text,
              "received": dated.timestamp() if dated and dated.tzinfo else None,
              "header_id": str(message.get("Message-ID", "")), "auto": auto}
    if message.get_content_type() == "multipart/report":
        reports, originals = _reports(message)
        if reports:
            return Incoming(kind="bounce", refers=tuple(originals), reports=tuple(reports),
                            **common)
    if _looks_like_a_bounce(message):
        whole = "\n".join(part.get_content() for part in message.walk()
                          if part.get_content_maintype() == "text"
                          and part.get_content_type() != "text/html")
        cut = _COPY_STARTS.search(whole)
        prose, copy = (whole[:cut.start()], whole[cut.start():]) if cut else (whole, whole)
        originals = [i for part in message.walk() if part.get_content_type() == "message/rfc822"
                     for i in _ids(part.get_payload()[0].get("Message-ID"))]
        originals += [i for i in _HEADER_ID.findall(copy) if i not in originals]
        return Incoming(kind="bounce", refers=tuple(originals), prose=prose, **common)
    references = message.get("References", "")
    return Incoming(kind="mail", refers=tuple(_ids(message.get("In-Reply-To"), references)),
                    **common)


def bounced(incoming: Incoming, recipients: list[str]) -> list[Bounce]:
    """The recipients ``incoming`` reports as failed, of an original sent to ``recipients``.

    A standard bounce names them; a prose bounce is searched for each
    original recipient, the lines after the address up to a blank line being
    the reason (its status code, or else its SMTP reply code, as status).
    """
    if incoming.standard:
        return list(incoming.reports)
    found = []
    lines = incoming.prose.splitlines()
    for recipient in recipients:
        at = next((i for i, line in enumerate(lines) if recipient.lower() in line.lower()), None)
        if at is None:
            continue
        block = [lines[at].strip()]
        for line in lines[at + 1:]:
            if not line.strip() or (block and any(r.lower() in line.lower()
                                                  for r in recipients if r != recipient)):
                break
            block.append(line.strip())
        reason = " ".join(part for part in block if part).replace(recipient, "").strip(" :<>")
        status = _STATUS.search(reason) or _REPLY_CODE.search(reason)
        found.append(Bounce(recipient, status.group(1) if status else "", reason or
                            "the server gave no reason"))
    return found
