"""Inbound traffic: what the receive hook turns a provider's webhook call into.

A provider calls back with delivery reports for messages it accepted, with
messages people sent to the account's number (replies), and with some
providers' own notices that a number opted out. ``postroom_receive`` reads one
such call and answers a ``Received``: the events it holds, or a refusal
(a signature that does not match, a call that is not the provider's).

These classes are the vocabulary between the engine and a plugin's receive
hook, as ``postroom.results`` is for sending. ``keyword`` is pure: it decides
whether a reply is an opt-out (``STOP``) or an opt-in (``START``) under an
account's keywords.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from attrs import field, frozen

ReportState = Literal["delivered", "failed", "pending"]
"""What a delivery report says, in postroom's words: ``delivered`` to the
handset or mailbox; ``failed`` for good (expired, rejected, undeliverable);
``pending`` on its way (buffered, sent to the carrier, unknown yet)."""

REPORT_STATES: tuple[str, ...] = ("delivered", "failed", "pending")

DEFAULT_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
DEFAULT_OPT_IN = ("START", "UNSTOP", "YES")


def _words(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(word.strip().upper() for word in value if word.strip())


@frozen(kw_only=True)
class DeliveryReport:
    """The provider's report on a message it accepted earlier.

    - ``state``: ``delivered``, ``failed`` or ``pending`` (see ``ReportState``).
    - ``message_id``: postroom's id of the message, when the provider sends
      back the client reference it was given; else leave it ``None`` and give
      ``provider_id``, the id the provider answered the send with: postroom
      finds the message by either.
    - ``status``: the provider's own word (``expired``, ``FAILED.BLOCKED``);
      ``code`` its error code; ``reason`` what went wrong, for people.
    - ``cost`` and ``currency``: what the provider charged, when it says.
    - ``recipient``: the number or address (E.164 for SMS); ``at``: when the
      carrier reported, in UTC.
    """

    state: ReportState = field()
    message_id: str | None = None
    provider_id: str | None = None
    status: str = ""
    code: str | None = None
    reason: str = ""
    cost: Decimal | None = None
    currency: str | None = None
    recipient: str | None = None
    at: datetime | None = None
    info: dict[str, str] = field(factory=dict)

    @state.validator
    def _known(self, attribute, value) -> None:
        if value not in REPORT_STATES:
            raise ValueError(f"state: expected one of {', '.join(REPORT_STATES)}, got {value!r}")


@frozen(kw_only=True)
class InboundMessage:
    """A message someone sent to the account: a reply, or a keyword such as STOP.

    ``sender`` is who wrote (E.164 for SMS: read it with
    ``postroom.addresses.phone_number``), ``recipient`` the account's number
    or address it came to, ``text`` the body, ``at`` when the provider
    received it (UTC). ``provider_id`` is the provider's id for it: a call
    delivered twice is recorded once. ``reply_to`` is the provider's id of the
    sent message this answers, when the provider links them; postroom links
    the others to the last message it sent to ``sender``. ``subject`` is for
    email.
    """

    sender: str
    recipient: str
    text: str
    at: datetime | None = None
    provider_id: str | None = None
    reply_to: str | None = None
    subject: str | None = None
    info: dict[str, str] = field(factory=dict)


@frozen(kw_only=True)
class OptChange:
    """The provider's own notice that ``number`` opted out (or back in).

    For providers that handle STOP themselves and say so; a plain reply that
    reads STOP is an ``InboundMessage``, and postroom reads the keyword.
    """

    number: str
    opted_out: bool
    keyword: str = ""
    at: datetime | None = None
    info: dict[str, str] = field(factory=dict)


InboundEvent = DeliveryReport | InboundMessage | OptChange


@frozen
class Received:
    """The receive hook's answer for one webhook call.

    Build it with ``Received.accept(events)`` or ``Received.refuse(reason)``.
    ``status``, ``body`` and ``content_type`` are what the webhook app answers
    the provider (some want a particular body). A refused call
    (``status`` 400, 401 or 403) is logged with ``reason`` and never
    recorded: write ``reason`` for the admin, and never put a secret in it.
    """

    events: tuple[InboundEvent, ...] = ()
    status: int = 204
    reason: str = ""
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @classmethod
    def accept(cls, events: Sequence[InboundEvent] = (), *, status: int = 204, body: str = "",
               content_type: str = "text/plain; charset=utf-8") -> Received:
        """The call was the provider's and held ``events`` (none: a test ping)."""
        return cls(tuple(events), status, "", body, content_type)

    @classmethod
    def refuse(cls, reason: str, status: int = 403) -> Received:
        """The call cannot be trusted or read: 403 for a missing or wrong
        signature or secret, 401 when credentials are missing, 400 for a call
        that is not a webhook of this provider."""
        if not 400 <= status < 500:
            raise ValueError(f"a refusal answers 4xx, not {status}")
        return cls((), status, reason)


@frozen
class Keywords:
    """An account's opt-out and opt-in keywords, upper case.

    ``[accounts.NAME.keywords]`` with ``opt_out = [...]`` and ``opt_in =
    [...]`` replaces the English defaults.
    """

    opt_out: tuple[str, ...] = field(default=DEFAULT_OPT_OUT, converter=_words)
    opt_in: tuple[str, ...] = field(default=DEFAULT_OPT_IN, converter=_words)


def keyword(text: str, keywords: Keywords) -> tuple[bool, str] | None:
    """``(opted_out, keyword)`` when ``text`` is an opt-out or opt-in keyword, else None.

    The whole message must be the keyword, in any case, with spaces and
    closing punctuation around it ignored (``Stop.``, `` stop!``), as carriers
    read it: a sentence that merely contains "stop" is a reply.
    """
    word = text.strip().rstrip(".!?,;:").strip().upper()
    if word in keywords.opt_out:
        return True, word
    if word in keywords.opt_in:
        return False, word
    return None


__all__ = ["DEFAULT_OPT_IN", "DEFAULT_OPT_OUT", "REPORT_STATES", "DeliveryReport",
           "InboundEvent", "InboundMessage", "Keywords", "OptChange", "Received", "ReportState",
           "keyword"]
