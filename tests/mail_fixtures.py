"""The incoming-mail fixtures of ``tests/fixtures/mail``, filled in for one sent message."""

from __future__ import annotations

from pathlib import Path
from string import Template

MAIL = Path(__file__).parent / "fixtures" / "mail"
SENDER = "desk@clinic.example"
RECIPIENT = "ann.lee@example.net"
OTHER = "bo@example.com"


def fixture_mail(name: str, message_id: str, **values: str) -> bytes:
    """``fixtures/mail/NAME.eml`` about the message whose Message-ID header is ``message_id``."""
    text = Template((MAIL / f"{name}.eml").read_text()).substitute(
        message_id=message_id, sender=values.get("sender", SENDER),
        recipient=values.get("recipient", RECIPIENT), other=values.get("other", OTHER))
    return text.replace("\n", "\r\n").encode()
