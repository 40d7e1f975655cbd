"""Sending a batch through Exchange Online: the SMTP plugin's hosted-service batch.

``postroom_smtp.send_hosted`` refuses messages over the recipient cap and
readies the access token before connecting; Exchange's known refusals then
get their meaning (a daily limit reached pauses the account for a day).
"""

from __future__ import annotations

from collections.abc import Sequence

from postroom import EmailMessage, SendResult
from postroom_microsoft365.config import Microsoft365Config
from postroom_microsoft365.exchange import send_result
from postroom_smtp import send_hosted

TOO_MANY = "send it as several messages, or to a distribution group that has them all"


def send(config: Microsoft365Config, messages: Sequence[EmailMessage]) -> list[SendResult]:
    """Send ``messages`` over one Exchange Online session; one result per message, in order."""
    login = config.login()
    results = send_hosted(config.transport(login), login, messages, config.from_address,
                          config.reply_to_addresses, max_recipients=config.max_recipients,
                          service="Exchange Online", advice=TOO_MANY)
    return [send_result(r) for r in results]
