"""How a text message is encoded and split into SMS segments (3GPP TS 23.038).

Pure functions shared by every SMS provider, so that counts, prices and the
``type`` a provider is asked for agree everywhere.

- A text made only of the GSM 03.38 default alphabet goes as **GSM-7**: one
  septet per character, two for the characters of the extension table
  (escape + character). One SMS holds 160 septets; a concatenated message
  holds 153 per part, since the header that joins the parts takes the rest.
- One character outside that alphabet makes the whole text **UCS-2**: counted
  in UTF-16 code units (an emoji outside the Basic Multilingual Plane takes
  two), 70 in one SMS, 67 per part when concatenated.

A split never separates an escape from its character (GSM-7) nor the two
halves of a surrogate pair (UCS-2): such a character moves whole to the next
part, which is why the segment count comes from the split itself.

::

    >>> segment("See you at 9.").segments
    1
    >>> segment("Price: 5€").units
    10
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from attrs import frozen

Encoding = Literal["GSM-7", "UCS-2"]

ESCAPE = "\x1b"

# The 128 positions of the default alphabet, in code order (0x00-0x7F).
# Position 0x1B is the escape to the extension table, not a character a text
# can carry: a literal ESC in a text would swallow the character after it on
# the handset, so it is left out of the characters that count as GSM-7.
_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" + ESCAPE + "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_BASIC = frozenset(_BASIC_TABLE) - {ESCAPE}
"""Characters that take one septet."""

GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
"""Characters of the extension table: each takes two septets (escape + character)."""

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@frozen
class Segmentation:
    """How one text goes over SMS.

    ``encoding`` is ``"GSM-7"`` or ``"UCS-2"``; ``units`` the septets (GSM-7)
    or UTF-16 code units (UCS-2) the whole text takes; ``parts`` the text of
    each segment, in order (joined they give the text back); ``part_units``
    the units each part takes; ``limit`` the units a part may hold for this
    text (160/70 when it fits one SMS, 153/67 when concatenated).
    """

    encoding: Encoding
    units: int
    parts: tuple[str, ...]
    part_units: tuple[int, ...]
    limit: int

    @property
    def segments(self) -> int:
        """How many SMS the text is sent (and usually billed) as."""
        return len(self.parts)


_GSM7_ALL = frozenset(GSM7_BASIC) | frozenset(GSM7_EXTENSION)


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM default alphabet or its extension."""
    return _GSM7_ALL.issuperset(text)


def encoding_of(text: str) -> Encoding:
    """``"GSM-7"`` when the text fits the GSM alphabet, else ``"UCS-2"``."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _gsm7_units(char: str) -> int:
    return 2 if char in GSM7_EXTENSION else 1


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _split(text: str, size, limit: int) -> tuple[list[str], list[int]]:
    """Fill parts of at most ``limit`` units, a character never cut in two."""
    parts: list[str] = []
    used: list[int] = []
    start, count = 0, 0
    for index, char in enumerate(text):
        width = size(char)
        if count + width > limit:
            parts.append(text[start:index])
            used.append(count)
            start, count = index, 0
        count += width
    parts.append(text[start:])
    used.append(count)
    return parts, used


def segment(text: str) -> Segmentation:
    """Work out the encoding, the units and the segments of ``text``.

    An empty text still counts as one (empty) segment, as a provider would
    send and bill it.
    """
    if is_gsm7(text):
        encoding, size, single, per_part = "GSM-7", _gsm7_units, GSM7_SINGLE, GSM7_PART
        units = len(text) + sum(text.count(c) for c in GSM7_EXTENSION)
    else:
        encoding, size, single, per_part = "UCS-2", _utf16_units, UCS2_SINGLE, UCS2_PART
        units = len(text.encode("utf-16-le")) // 2
    if units <= single:  # the common case: one part, nothing to split
        return Segmentation(encoding, units, (text,), (units,), single)
    parts, used = _split(text, size, per_part)
    return Segmentation(encoding, units, tuple(parts), tuple(used), per_part)


def cost(text: str, price_per_segment: Decimal) -> Decimal:
    """What ``text`` costs at ``price_per_segment``: one price for each segment."""
    return price_per_segment * segment(text).segments


__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "Encoding",
    "Segmentation",
    "cost",
    "encoding_of",
    "is_gsm7",
    "segment",
]
