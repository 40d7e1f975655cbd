"""Sending a batch through Gmail: the SMTP plugin's hosted-service batch, with Gmail's limits.

``postroom_smtp.send_hosted`` refuses messages over Gmail's recipient cap
and readies the access token before connecting. After: Gmail's quota
refusal pauses the account for a day instead of failing the message.
Gmail's daily limit itself is declared (``GmailConfig.limits``) and kept by
the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing

from postroom import EmailMessage, SendResult
from postroom_gmail.config import GmailConfig
from postroom_gmail.quota import quota_result
from postroom_smtp.hosted import send_hosted

TOO_MANY = "send it as several messages, or to a Google Group that has them all"


def send(config: GmailConfig, messages: Sequence[EmailMessage]) -> Iterator[SendResult]:
    """Send ``messages`` over one Gmail session, yielding one ``SendResult`` per
    message, in order, as each is known."""
    login = config.login()
    kind, limit = config.kind, config.daily_limit  # read once, not once per message
    with closing(send_hosted(config.transport(login), login, messages, config.from_address,
                             config.reply_to_addresses, max_recipients=config.max_recipients,
                             service="Gmail", advice=TOO_MANY)) as sent:
        for result in sent:
            yield quota_result(result, kind, limit)
