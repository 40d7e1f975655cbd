"""Turning an ``EmailMessage`` into the MIME message that goes on the wire."""

from __future__ import annotations

import email.message
import email.policy
import email.utils
from collections.abc import Sequence

from postroom.addresses import Address
from postroom.messages import EmailMessage

# CRLF line ends as SMTP wants them; RFC 2047 words for non-ASCII names and subjects.
POLICY = email.policy.SMTP


def build_mime(
    message: EmailMessage,
    sender: Address,
    reply_to: Sequence[Address] = (),
) -> email.message.EmailMessage:
    """Build the MIME message: headers, text with html alternative, attachments.

    ``sender`` is the From address (the message's own ``sender`` wins when
    set); ``reply_to`` the account's default Reply-To when the message has none.
    The Message-ID is made from postroom's message id, so a log entry and the
    mail a recipient forwards can be matched.
    """
    sender = message.sender or sender
    mime = email.message.EmailMessage(policy=POLICY)
    mime["From"] = str(sender)
    if message.to:
        mime["To"] = ", ".join(str(a) for a in message.to)
    if message.cc:
        mime["Cc"] = ", ".join(str(a) for a in message.cc)
    replies = message.reply_to or tuple(reply_to)
    if replies:
        mime["Reply-To"] = ", ".join(str(a) for a in replies)
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.formatdate(localtime=True)
    mime["Message-ID"] = f"<{message.id}@{sender.email.rpartition('@')[2]}>"
    for name, value in message.headers.items():
        mime[name] = value
    if message.text is not None:
        mime.set_content(message.text)
        if message.html is not None:
            mime.add_alternative(message.html, subtype="html")
    else:
        mime.set_content(message.html or "", subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mime.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                            filename=attachment.filename)
    return mime
