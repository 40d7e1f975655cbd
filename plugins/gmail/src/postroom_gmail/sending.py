"""Sending a batch through Gmail: the SMTP plugin's batch, with Gmail's limits around it.

Before: messages with more recipients than Gmail takes are refused, and the
login's credential (an access token) is readied, so a token problem pauses
the account instead of looking like a failed connection. After: Gmail's quota
refusal pauses the account for a day instead of failing the message.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def _send(config: GmailConfig, messages: Sequence[EmailMessage]) -> list[SendResult]:
    login = config.login()
    try:
        login.prepare()
    except TokenError as error:
        return [error.finding.not_sent(m.id) for m in messages]
    results = send_batch(config.transport(login), messages, config.from_address,
                         config.reply_to_addresses)
    kind, limit = config.kind, config.daily_limit  # read once, not once per message
    return [quota_result(r, kind, limit) for r in results]


def send(config: GmailConfig, messages: Sequence[EmailMessage]) -> list[SendResult]:
    """Send ``messages`` over one Gmail session; one ``SendResult`` per message, in order."""
    results: list[SendResult | None] = [_too_many(m, config.max_recipients) for m in messages]
    waiting = [i for i, result in enumerate(results) if result is None]
    if waiting:
        sent = _send(config, [messages[i] for i in waiting])
        for index, result in zip(waiting, sent, strict=True):
            results[index] = result
    return results
