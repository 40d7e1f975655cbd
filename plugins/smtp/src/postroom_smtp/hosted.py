"""Sending a batch through a hosted mail service (Gmail, Microsoft 365) over SMTP.

Such a service caps the recipients of one message and logs in with a
credential that may have to be fetched first (an OAuth2 access token).
Before connecting, messages over the cap are refused for good and the
credential is readied, so a token problem pauses the account instead of
looking like a failed connection; the rest goes through ``send_batch``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
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
                advice: str) -> Iterator[SendResult]:
    """Send ``messages`` over one session of ``transport`` (which logs in with ``login``),
    yielding one ``SendResult`` per message, in order, as each is known.

    ``service`` names the service and ``advice`` says what to do instead, in
    the text of a message refused for having more than ``max_recipients``.
    """
    refusals = [over_the_cap(m, max_recipients, service, advice) for m in messages]
    rest = [m for m, refusal in zip(messages, refusals, strict=True) if refusal is None]
    with closing(_send_prepared(transport, login, rest, sender, reply_to)) as sent:
        for refusal in refusals:
            yield refusal if refusal is not None else next(sent)


def _send_prepared(transport: SmtpTransport, login: PreparedLogin,
                   messages: Sequence[EmailMessage], sender: Address,
                   reply_to: Sequence[Address]) -> Iterator[SendResult]:
    if not messages:
        return
    try:
        login.prepare()
    except TokenError as error:  # no session without a token: nothing was handed over
        for message in messages:
            yield error.finding.unreachable(message.id)
        return
    yield from send_batch(transport, messages, sender, reply_to)
