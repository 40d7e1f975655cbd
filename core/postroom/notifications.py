"""Events and the people who hear about them: who gets what, on which channel.

Apps think in events ("appointment cancelled") and in people who chose how to
hear about them. ``plan`` turns one event and a list of ``Contact``s into the
deliveries to make and the people to skip, with the reason; it is pure, so
every rule is tested without a server. The engine renders and queues the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import phonenumbers
from attrs import field, frozen

from postroom.addresses import email_address, phone_number
from postroom.errors import MessageError
from postroom.messages import Channel

Importance = Literal["normal", "critical"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")


def _channels(value: Iterable[str] | str | None) -> tuple[Channel, ...] | None:
    if value is None:
        return None
    chosen = ("email", "sms") if value == "both" else (value,) if isinstance(value, str) \
        else tuple(value)
    for channel in chosen:
        if channel not in CHANNELS:
            raise MessageError("channels", f"unknown channel {channel!r}; use email, sms or both")
    return chosen


@frozen(kw_only=True)
class Event:
    """Something that happens, and how people hear of it by default.

    ``template`` names the template rendered for it; ``channels`` are used for
    people with no preference; a ``critical`` event reaches people who opted
    out or did not subscribe, and goes outside send windows, and the log says so.
    """

    name: str
    template: str
    channels: tuple[Channel, ...] = field(default=("email",), converter=_channels)
    importance: Importance = "normal"

    @property
    def critical(self) -> bool:
        return self.importance == "critical"


@frozen(kw_only=True)
class Contact:
    """A person as the app knows them.

    ``channels``: how they want to hear (``"email"``, ``"sms"``, ``"both"``;
    None: the event's default). ``events``: the events they subscribed to
    (None: all). ``opted_out``: they want nothing but critical messages.
    ``sms_gateway``: their carrier's email-to-SMS gateway (a name from
    ``[gateways]``), so their text messages travel as email. ``id`` is the
    app's own id for them, used in idempotency keys and the log.
    """

    email: str | None = None
    phone: str | None = None
    name: str | None = None
    channels: tuple[Channel, ...] | None = field(default=None, converter=_channels)
    events: frozenset[str] | None = field(
        default=None, converter=lambda v: None if v is None else frozenset(v))
    opted_out: bool = False
    timezone: str | None = None
    locale: str | None = None
    sms_gateway: str | None = None
    context: Mapping[str, object] = field(factory=dict, converter=dict)
    id: str | None = None

    @property
    def label(self) -> str:
        """How the log names this person."""
        return self.id or self.email or self.phone or self.name or "(no address)"

    @classmethod
    def of(cls, value: Contact | str | Mapping[str, object]) -> Contact:
        """A ``Contact``, a dict of its fields, or an address or number alone."""
        if isinstance(value, Contact):
            return value
        if isinstance(value, str):
            return cls(email=value) if "@" in value else cls(phone=value)
        if isinstance(value, Mapping):
            try:
                return cls(**value)
            except TypeError as exc:
                raise MessageError("recipients", f"{exc}; a contact has email, phone, name, "
                                                 "channels, events, opted_out, timezone, "
                                                 "locale, sms_gateway, context, id") from None
        raise MessageError("recipients", f"expected a Contact, a dict or an address, got "
                                         f"{value!r}")


@frozen
class Delivery:
    """One message to make: ``channel`` is the template part (email or sms),
    ``route`` the account group it travels by (``email`` for gateway SMS),
    ``to`` the address or E.164 number, ``note`` what the log should say."""

    contact: Contact
    channel: Channel
    route: Channel
    to: str
    note: str | None = None


@frozen
class Skip:
    """Someone not reached on ``channel``, and why."""

    contact: Contact
    channel: Channel | None
    reason: str


def gateway_address(e164: str, domain: str) -> str:
    """The carrier gateway address of a number: its national digits at the domain."""
    number = phonenumbers.parse(e164)
    return f"{phonenumbers.national_significant_number(number)}@{domain}"


def plan(event: Event, contacts: Iterable[Contact], gateways: Mapping[str, str],
         region: str | None = None) -> tuple[list[Delivery], list[Skip]]:
    """Decide, for each contact, which messages to make and whom to skip."""
    deliveries: list[Delivery] = []
    skipped: list[Skip] = []
    for contact in contacts:
        note = None
        unwanted = ("opted out" if contact.opted_out else
                    "not subscribed to this event"
                    if contact.events is not None and event.name not in contact.events
                    else None)
        if unwanted and not event.critical:
            skipped.append(Skip(contact, None, unwanted))
            continue
        if unwanted:
            note = f"critical event: sent although {unwanted}"
        for channel in contact.channels or event.channels:
            found = _address(contact, channel, gateways, region)
            if isinstance(found, Skip):
                skipped.append(found)
            else:
                route, to = found
                deliveries.append(Delivery(contact, channel, route, to, note))
    return deliveries, skipped


def _address(contact: Contact, channel: Channel, gateways: Mapping[str, str],
             region: str | None) -> tuple[Channel, str] | Skip:
    if channel == "email":
        if not contact.email:
            return Skip(contact, channel, "no email address")
        try:
            return "email", email_address(contact.email)
        except ValueError as exc:
            return Skip(contact, channel, f"invalid email address: {exc}")
    if not contact.phone:
        return Skip(contact, channel, "no phone number")
    try:
        number = phone_number(contact.phone, region)
    except ValueError as exc:
        return Skip(contact, channel, f"invalid number: {exc}")
    if contact.sms_gateway is None:
        return "sms", number
    domain = gateways.get(contact.sms_gateway)
    if domain is None:
        return Skip(contact, channel, f"unknown SMS gateway {contact.sms_gateway!r}; "
                                      f"known: {', '.join(gateways) or '(none configured)'}")
    return "email", gateway_address(number, domain)
