"""What messages will cost in credits, worked out before anything is sent.

The count of SMS parts comes from ``postroom.sms_text``, the same rules the
plugin uses to choose each message's encoding, so the estimate and what the
gateway charges agree part for part.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from postroom.messages import SmsMessage
from postroom.sms_text import cost

UNIT = "credits"  # what balances and charges are counted in


def credits_for(text: str, credits_per_segment: Decimal) -> Decimal:
    """Credits one message with ``text`` takes: one charge per SMS part."""
    return cost(text, credits_per_segment)


def credits_needed(messages: Iterable[SmsMessage], credits_per_segment: Decimal) -> Decimal:
    """Credits ``messages`` take together (each message has one recipient)."""
    return sum((credits_for(m.text, credits_per_segment) for m in messages), Decimal(0))


def shortfall(needed: Decimal, balance: Decimal) -> Decimal:
    """How many credits are missing to cover ``needed``; 0 when the balance does."""
    return max(needed - balance, Decimal(0))


def amount(value: Decimal) -> str:
    """A credit amount as people write it: ``997`` for ``997.0``; ``12.5`` stays."""
    return format(value.normalize(), "f")
