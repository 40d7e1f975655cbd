"""Sending a batch through a hosted mail service (Gmail, Microsoft 365) over SMTP.

Such a service caps the recipients of one message and logs in with a
credential that may have to be fetched first (an OAuth2 access token).
Before connecting, messages over the cap are refused for good and the
credential is readied, so a token problem pauses the account instead of
looking like a failed connection; the rest goes through ``send_batch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from postroom import Address, EmailMessage, SendResult
from postroom_smtp.batch import send_batch
from postroom_smtp.transport.auth import Authenticator
from postroom_smtp.transport.smtp_transport import SmtpTransport
from postroom_smtp.xoauth2 import TokenError


class PreparedLogin(Authenticator, Protocol):
    """An ``Authenticator`` whose credential can be readied before connecting."""

    def prepare(self, *, fresh: bool = False) -> None:
        """Have the credential at hand; ``fresh`` renews what can be renewed.

        Raises ``TokenError`` when it cannot be had.
        """
        ...


def over_the_cap(message: EmailMessage, limit: int, service: str,
                 advice: str) -> SendResult | None:
    """A permanent result for a message with more recipients than ``limit``, else None."""
    count = len(set(message.recipients))
    if count <= limit:
        return None
    return SendResult.permanent(
        message.id, None, f"{count} recipients (To, Cc and Bcc together), more than the "
        f"{limit} one {service} message may have (max_recipients): {advice}")


def send_hosted(transport: SmtpTransport, login: PreparedLogin,
                messages: Sequence[EmailMessage], sender: Address,
                reply_to: Sequence[Address] = (), *, max_recipients: int, service: str,
                advice: str) -> list[SendResult]:
    """Send ``messages`` over one session of ``transport`` (which logs in with ``login``).

    One ``SendResult`` per message, in order. ``service`` names the service
    and ``advice`` says what to do instead, in the text of a message refused
    for having more than ``max_recipients``.
    """
    results: list[SendResult | None] = [over_the_cap(m, max_recipients, service, advice)
                                        for m in messages]
    waiting = [i for i, result in enumerate(results) if result is None]
    if not waiting:
        return results
    try:
        login.prepare()
    except TokenError as error:
        sent = [error.finding.not_sent(messages[i].id) for i in waiting]
    else:
        sent = send_batch(transport, [messages[i] for i in waiting], sender, reply_to)
    for index, result in zip(waiting, sent, strict=True):
        results[index] = result
    return results
