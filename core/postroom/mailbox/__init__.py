"""Checking an account's incoming mailbox (IMAP or POP3) for bounces and replies.

``[accounts.NAME.mailbox]`` says where the mailbox is (``MailboxSettings``);
``Engine.check_mailbox`` reads what is new, records bounces in the delivery
log and every message in the inbox (``Engine.inbox``).
"""

from postroom.mailbox.check import MailboxFailed, MailboxReport
from postroom.mailbox.settings import MailboxSettings

__all__ = ["MailboxFailed", "MailboxReport", "MailboxSettings"]
