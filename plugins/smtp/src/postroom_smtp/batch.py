"""Sending a batch of emails over one SMTP session, with a result for each.

One connection carries the whole batch: EHLO, TLS and login happen once.
If the connection breaks before the server has a message, the session
reconnects and sends that message once more; if it breaks after the message
was sent but before the server confirmed it, the message is reported
unconfirmed and not sent again, so nothing is ever sent twice by us.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from itertools import islice

from postroom import Address, EmailMessage, SendResult
from postroom.addresses import ascii_email
from postroom_smtp.diagnosis import Finding, explain
from postroom_smtp.refusals import explain_refusal
from postroom_smtp.transport.delivery import Delivery
from postroom_smtp.transport.envelope import Envelope
from postroom_smtp.transport.errors import SessionError, reply_code
from postroom_smtp.transport.session import SmtpSession
from postroom_smtp.transport.smtp_transport import SmtpTransport

log = logging.getLogger("postroom_smtp")

# A message whose connection broke before the server had it is tried on one
# fresh connection more; a server that drops every try gets no third.
_ATTEMPTS = 2


def send_batch(transport: SmtpTransport, messages: Sequence[EmailMessage], sender: Address,
               reply_to: Sequence[Address] = ()) -> Iterator[SendResult]:
    """Send ``messages`` over one session, yielding each one's ``SendResult`` as it
    comes, in order; a message goes when its result is asked for.

    ``sender`` is the From address for messages without their own;
    ``reply_to`` the Reply-To for messages without their own. Closing the
    generator closes the session; a next message whose commands went out
    with the last content is dropped unsent.
    """
    account_sender = ascii_email(sender.email)
    # Envelopes are built ahead: the next one's commands go out with this one's
    # content, and the one after is built while the server handles this one.
    envelopes = (Envelope.of(message, sender, reply_to) for message in messages)
    ahead: deque[Envelope] = deque()

    def build_ahead() -> None:
        ahead.extend(islice(envelopes, 2 - len(ahead)))

    with SmtpSession(transport) as session:
        for index in range(len(messages)):
            build_ahead()
            envelope = ahead.popleft()
            following = ahead[0] if ahead else None
            try:
                result = _send_one(session, envelope, following, account_sender, build_ahead)
            except SessionError as failure:
                # (Re)connecting failed before this message was handed over: the
                # server cannot be reached, and the rest cannot go either.
                finding = explain(failure, transport)
                log.warning("cannot send through %s: %s", transport.server, finding.detail)
                code = reply_code(failure.error)
                for message in messages[index:]:
                    yield finding.unreachable(message.id, str(code) if code else None)
                return
            yield result


def _send_one(session: SmtpSession, envelope: Envelope, following: Envelope | None,
              account_sender: str, meanwhile: Callable[[], None]) -> SendResult:
    """Deliver one envelope (``following`` goes next, ``meanwhile`` runs while the
    server handles it); ``SessionError`` only if no connection can be opened.
    ``account_sender`` is the account's own envelope sender."""
    attempt = 1
    while True:
        session.ensure_open()
        try:
            return _result(envelope, session.deliver(envelope, following, meanwhile),
                           session.transport, account_sender)
        except SessionError as lost:
            finding = explain(lost, session.transport)
            if lost.maybe_delivered or attempt == _ATTEMPTS:
                return _not_sent(envelope.message_id, lost, finding)
            attempt += 1
            log.warning("%s; reconnecting to send message %s again", finding.detail,
                        envelope.message_id)


def _not_sent(message_id: str, failure: SessionError, finding: Finding) -> SendResult:
    code = reply_code(failure.error)
    return finding.not_sent(message_id, str(code) if code else None,
                            maybe_delivered=failure.maybe_delivered)


def _result(envelope: Envelope, delivery: Delivery, transport: SmtpTransport,
            account_sender: str) -> SendResult:
    refused = {address: str(reply) for address, reply in delivery.refused.items()}
    code, text = str(delivery.reply.code), delivery.reply.text
    if delivery.accepted:
        return SendResult.accepted(envelope.message_id, envelope.header_id, code=code,
                                   text=text, refused=refused)
    finding = explain_refusal(delivery, envelope, transport, account_sender=account_sender)
    if delivery.command == "RCPT" and finding.category in ("recipient-refused", "try-later"):
        text = "every recipient was refused: " + "; ".join(
            f"{address}: {reply}" for address, reply in refused.items())
    # The same reading the live test gives, for the log and for scripts.
    info = {"category": finding.category, "hint": finding.hint}
    if finding.stops_account:
        return SendResult.account_stopped(envelope.message_id, code, f"{text}; {finding.hint}",
                                          refused=refused, info=info)
    if delivery.reply.transient:
        return SendResult.transient(envelope.message_id, code, text, refused=refused, info=info)
    return SendResult.permanent(envelope.message_id, code, text, refused=refused, info=info)
