"""The archive copy: every email an account sends also goes to its ``archive_bcc`` address.

The address is added to the envelope only (SMTP's RCPT TO), never to a
header, so no recipient sees it; the server delivers one copy to it per
message, however many recipients the message has. A copy postroom sends
again to recipients a server deferred (its ``envelope`` set) was archived
with the first try and is not archived again.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from postroom.messages import EmailMessage, Message


def with_archive_copy(messages: Sequence[Message], address: str | None) -> list[Message]:
    """``messages`` with ``address`` added to each email's envelope (once)."""
    if address is None:
        return list(messages)
    return [attrs.evolve(m, envelope=(*m.recipients, address))
            if isinstance(m, EmailMessage) and not m.envelope and address not in m.recipients
            else m for m in messages]
