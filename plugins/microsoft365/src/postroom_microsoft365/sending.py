"""Sending a batch through Exchange Online: the SMTP plugin's hosted-service batch.

``postroom_smtp.send_hosted`` refuses messages over the recipient cap and
readies the access token before connecting; Exchange's known refusals then
get their meaning (a daily limit reached pauses the account for a day).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing

from postroom import EmailMessage, SendResult
from postroom_microsoft365.config import Microsoft365Config
from postroom_microsoft365.exchange import send_result
from postroom_smtp import send_hosted

TOO_MANY = "send it as several messages, or to a distribution group that has them all"


def send(config: Microsoft365Config, messages: Sequence[EmailMessage]) -> Iterator[SendResult]:
    """Send ``messages`` over one Exchange Online session, yielding one result per
    message, in order, as each is known."""
    login = config.login()
    with closing(send_hosted(config.transport(login), login, messages, config.from_address,
                             config.reply_to_addresses, max_recipients=config.max_recipients,
                             service="Exchange Online", advice=TOO_MANY)) as sent:
        for result in sent:
            yield send_result(result)
