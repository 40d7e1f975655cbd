"""Sending a batch through Gmail: the SMTP plugin's batch, with Gmail's limits around it.

Before: messages with more recipients than Gmail takes are refused, and the
login's credential (an access token) is readied, so a token problem pauses
the account instead of looking like a failed connection. After: Gmail's quota
refusal pauses the account for a day instead of failing the message. Gmail's
daily limit itself is declared (``GmailConfig.limits``) and kept by the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing

from postroom import EmailMessage, SendResult
from postroom_gmail.config import GmailConfig
from postroom_gmail.quota import quota_result
from postroom_gmail.token_endpoint import TokenError
from postroom_smtp import send_batch


def _too_many(message: EmailMessage, limit: int) -> SendResult | None:
    count = len(set(message.recipients))
    if count <= limit:
        return None
    return SendResult.permanent(
        message.id, None, f"{count} recipients (To, Cc and Bcc together), more than the "
        f"{limit} one Gmail message may have (max_recipients): send it as several messages, "
        "or to a Google Group that has them all")


def _send(config: GmailConfig, messages: Sequence[EmailMessage]) -> Iterator[SendResult]:
    login = config.login()
    try:
        login.prepare()
    except TokenError as error:  # no session without a token: nothing was handed over
        for message in messages:
            yield error.finding.unreachable(message.id)
        return
    kind, limit = config.kind, config.daily_limit  # read once, not once per message
    for result in send_batch(config.transport(login), messages, config.from_address,
                             config.reply_to_addresses):
        yield quota_result(result, kind, limit)


def send(config: GmailConfig, messages: Sequence[EmailMessage]) -> Iterator[SendResult]:
    """Send ``messages`` over one Gmail session, yielding one ``SendResult`` per
    message, in order, as each is known."""
    refusals = [_too_many(m, config.max_recipients) for m in messages]
    with closing(_send(config, [m for m, r in zip(messages, refusals, strict=True)
                                if r is None])) as sent:
        for refusal in refusals:
            yield refusal if refusal is not None else next(sent)
