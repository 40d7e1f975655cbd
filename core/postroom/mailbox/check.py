"""One check of an account's mailbox: read what is new, match it, record it.

Each new message is read, and what it is about is looked up in the outbox
by Message-ID (postroom's id is the Message-ID's local part). A bounce of a
message postroom sent becomes a ``bounced`` delivery-log entry per failed
recipient, with the status and reason; a reply is matched by In-Reply-To
and References. Every message goes in the inbox (``kind`` reply, bounce or
other) in one transaction with the mark that it was read, so a check that
dies half-way records each message once and the next check goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs
from attrs import define, field

from postroom.errors import PostroomError
from postroom.mailbox.reading import Incoming, bounced, read_incoming
from postroom.mailbox.servers import Mailbox
from postroom.messages import new_message_id
from postroom.mime import message_id_of
from postroom.results import Diagnosis
from postroom.store import InboxEntry, LogEntry, Store, StoredMessage

log = logging.getLogger("postroom.mailbox")

#: Makes the log entry of a bounce: (the sent message, outcome, details) -> entry.
Describe = Callable[..., LogEntry]


class MailboxFailed(PostroomError):
    """A mailbox check that could not read the mailbox; ``diagnosis`` says why."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(f"{diagnosis.detail}; {diagnosis.hint}")
        self.diagnosis = diagnosis


@define
class MailboxReport:
    """What one check found: messages ``read``, bounced recipients logged
    (``bounces``), ``replies``, ``other`` mail, bounces about no message in
    the outbox (``unmatched``), new messages ``left`` for the next check, and
    the inbox ``entries`` made."""

    account: str
    read: int = 0
    bounces: int = 0
    replies: int = 0
    other: int = 0
    unmatched: int = 0
    left: int = 0
    entries: list[InboxEntry] = field(factory=list)


def _original(store: Store, incoming: Incoming) -> StoredMessage | None:
    for header in incoming.refers:
        message_id = message_id_of(header)
        stored = store.find(message_id) if message_id else None
        if stored is not None:
            return stored
    return None


def record(incoming: Incoming, key: str, account: str, store: Store, now: float,
           describe: Describe | None) -> tuple[InboxEntry, list[LogEntry]]:
    """The inbox entry for ``incoming`` and, for a matched bounce, its log entries.

    ``describe`` makes a log entry (None: the delivery log is off).
    """
    original = _original(store, incoming)
    entries = []
    kind = "bounce" if incoming.kind == "bounce" else "reply" if original else "other"
    if original is not None and kind == "bounce":
        for failure in bounced(incoming, original.recipient.split(", ")):
            outcome = "bounced" if failure.action == "failed" else failure.action
            if describe is not None:
                entries.append(attrs.evolve(
                    describe(original, now, outcome, code=failure.status or None,
                             text=failure.reason,
                             info={"report": "bounce", "format": "dsn" if incoming.standard
                                   else "text", "mailbox": account}),
                    recipient=failure.recipient))
    info = {"key": key, "header_id": incoming.header_id}
    if incoming.auto:
        info["auto-submitted"] = "yes"
    entry = InboxEntry(new_message_id(), "email", account, incoming.sender, incoming.recipient,
                       incoming.subject, incoming.text, incoming.received or now, kind,
                       original.id if original else None, info)
    return entry, entries


def read_new_mail(mailbox: Mailbox, account: str, store: Store, limit: int,
                  clock: Callable[[], float], describe: Describe | None) -> MailboxReport:
    """Read the mailbox's new messages (at most ``limit``, oldest first) and record them."""
    report = MailboxReport(account)
    keys = mailbox.keys()
    seen = store.seen_mail(account)
    new = [key for key in keys if key not in seen]
    report.left = max(len(new) - limit, 0)
    for key in new[:limit]:
        incoming = read_incoming(mailbox.fetch(key))
        entry, entries = record(incoming, key, account, store, clock(), describe)
        store.add_inbox([entry], entries, [(account, key)])
        report.read += 1
        report.entries.append(entry)
        report.bounces += sum(e.outcome == "bounced" for e in entries)
        report.replies += entry.kind == "reply"
        report.other += entry.kind == "other"
        report.unmatched += entry.message_id is None and entry.kind == "bounce"
        log.info("mailbox of %s: %s from %s (%s)", account, entry.kind, entry.sender or "?",
                 f"about {entry.message_id}" if entry.message_id else "no message of ours")
    # Forget what the mailbox no longer holds, so the record of read keys stays small.
    store.forget_mail(account, keys)
    return report
