"""Previews: every part of a template exactly as it would be sent, with SMS facts.

``Preview.as_text()`` is what ``postroom render`` prints and
``Preview.as_dict()`` what it prints with ``--json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from attrs import frozen

from postroom.errors import MessageError
from postroom.sms_text import Encoding, cost, is_gsm7, segment
from postroom.templating.recipients import Recipient
from postroom.templating.render import Rendered

_SHOWN_UCS2_CHARACTERS = 5


@frozen
class SmsFacts:
    """How an SMS text goes out.

    ``characters`` is its length, ``units`` the septets (GSM-7) or UTF-16
    units (UCS-2) it takes, ``per_segment`` what one segment of it holds;
    ``ucs2_because`` the first characters that forced UCS-2; ``cost`` the
    estimate at ``price_per_segment``, when a price is known.
    """

    encoding: Encoding
    characters: int
    units: int
    segments: int
    per_segment: int
    ucs2_because: tuple[str, ...] = ()
    price_per_segment: Decimal | None = None
    cost: Decimal | None = None


def sms_facts(text: str, price_per_segment: Decimal | None = None) -> SmsFacts:
    """Encoding, size, segments and estimated cost of an SMS text."""
    split = segment(text)
    culprits = tuple(dict.fromkeys(c for c in text if not is_gsm7(c)))[:_SHOWN_UCS2_CHARACTERS]
    return SmsFacts(
        encoding=split.encoding, characters=len(text), units=split.units,
        segments=split.segments, per_segment=split.limit, ucs2_because=culprits,
        price_per_segment=price_per_segment,
        cost=None if price_per_segment is None else cost(text, price_per_segment),
    )


def sms_warnings(facts: SmsFacts, max_segments: int) -> list[str]:
    """What an admin should hear about an SMS before it goes to many people."""
    found = []
    if facts.segments > max_segments:
        found.append(f"the SMS needs {facts.segments} segments, more than the "
                     f"{max_segments} allowed (max_sms_segments); shorten it or raise "
                     "the limit")
    if facts.ucs2_because:
        found.append("the SMS goes as UCS-2, 70 characters a segment instead of 160, "
                     "because of " + " ".join(repr(c) for c in facts.ucs2_because))
    return found


@frozen
class Preview:
    """A template rendered for one recipient on each channel asked for."""

    template: str
    recipient: Recipient
    email: Rendered | None
    sms: Rendered | None
    sms_facts: SmsFacts | None
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """The preview as JSON-ready data."""
        data: dict[str, object] = {"template": self.template,
                                   "recipient": self.recipient.details()}
        if self.email:
            data["email"] = {"version": _version(self.email), "subject": self.email.subject,
                             "text": self.email.text, "html": self.email.html}
        if self.sms and self.sms_facts:
            facts = self.sms_facts
            data["sms"] = {
                "version": _version(self.sms), "text": self.sms.text,
                "encoding": facts.encoding, "characters": facts.characters,
                "units": facts.units, "segments": facts.segments,
                "per_segment": facts.per_segment, "ucs2_because": list(facts.ucs2_because),
                "price_per_segment": _decimal(facts.price_per_segment),
                "estimated_cost": _decimal(facts.cost),
            }
        data["warnings"] = list(self.warnings)
        return data

    def as_text(self) -> str:
        """The preview as ``postroom render`` prints it."""
        lines = [f"template: {self.template}"]
        if self.recipient.details():
            lines.append("recipient: " + ", ".join(f"{k} {v}" for k, v in
                                                  self.recipient.details().items()))
        if self.email:
            lines += ["", f"=== email (version {_version(self.email)}) ===",
                      f"subject: {self.email.subject}"]
            for label, body in (("text", self.email.text), ("html", self.email.html)):
                if body is not None:
                    lines += [f"--- {label} ---", body]
        if self.sms and self.sms_facts:
            facts = self.sms_facts
            unit = "septets" if facts.encoding == "GSM-7" else "UTF-16 units"
            lines += ["", f"=== sms (version {_version(self.sms)}) ===",
                      f"{facts.encoding}, {facts.characters} characters ({facts.units} {unit}), "
                      f"{facts.segments} segment{'s' * (facts.segments != 1)} "
                      f"of up to {facts.per_segment}"]
            if facts.cost is not None:
                lines.append(f"estimated cost: {facts.cost} "
                             f"({facts.price_per_segment} a segment)")
            lines += ["--- text ---", self.sms.text or ""]
        if self.warnings:
            lines.append("")
            lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def _version(rendered: Rendered) -> str:
    """The locale version used, or "base"."""
    return rendered.locale or "base"


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def parse_vars(pairs: Iterable[str]) -> dict[str, str]:
    """``["name=Ann", "time=2025-03-30T09:00Z"]`` → a context of text values (``--var``)."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise MessageError("--var", f"expected NAME=VALUE, got {pair!r}")
        values[name.strip()] = value
    return values
