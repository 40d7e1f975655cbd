"""Who a message goes to, and the values a template sees for them.

A template sees the shared context of a send, the recipient's own values
over it, and ``recipient``: ``recipient.to``, ``recipient.name``,
``recipient.locale``, ``recipient.timezone`` (only those that were given).

Values must be plain data: text, numbers, booleans, None, ``Decimal``,
dates and times, and lists and dicts of those. Application objects are
refused, because a template could call their methods (``patient.delete()``)
and templates are edited by admins, not by developers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from attrs import field, frozen
from markupsafe import Markup

from postroom.addresses import split_addresses
from postroom.errors import MessageError
from postroom.templating.filters import time_zone
from postroom.templating.folder import normalise_locale

RESERVED = "recipient"

# Exact types: a subclass could carry methods a template must not reach.
# Markup is text the application marked as safe html on purpose.
_PLAIN = frozenset({str, Markup, int, float, bool, type(None), Decimal,
                    dt.date, dt.datetime, dt.time, dt.timedelta})


def plain(value: object, where: str = "context") -> object:
    """A copy of ``value`` made of plain data only; ``MessageError`` names what is not."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise MessageError(where, f"key {key!r} is not text; template values are "
                                          "looked up by name")
        return {key: plain(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise MessageError(where, f"a {type(value).__name__} object cannot go to a template; pass "
                              "plain values (text, numbers, dates, lists, dicts), since a "
                              "template could call an object's methods")


def _locale(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalise_locale(value)
    except ValueError as exc:
        raise MessageError("locale", str(exc)) from None


def _check_zone(_instance, _attribute, value: str | None) -> None:
    if value is not None:
        try:
            time_zone(value)
        except ValueError as exc:
            raise MessageError("timezone", str(exc)) from None


def _one_person(value: str) -> None:
    entries = split_addresses(value)
    if len(entries) > 1:
        raise MessageError("to", f"{value!r} holds {len(entries)} addresses or numbers; a "
                                 "templated message is made for one person: give each of "
                                 f"them a recipient of their own ({', '.join(entries)})")


def _check_one_person(_instance, _attribute, value: str | None) -> None:
    if value is not None:
        _one_person(value)


@frozen(kw_only=True)
class Recipient:
    """One recipient of a templated send.

    ``to`` is the address or phone number, one only (a list of several is
    refused: each person gets a message of their own); ``name`` the person's name (shown
    in the To header of email); ``locale`` picks the template version
    (``fr``, ``pt-BR``); ``timezone`` the zone times are shown in;
    ``context`` this recipient's own values, over the shared context.
    """

    to: str | None = field(default=None, validator=_check_one_person)
    name: str | None = None
    locale: str | None = field(default=None, converter=_locale)
    timezone: str | None = field(default=None, validator=_check_zone)
    context: Mapping[str, object] = field(factory=dict, converter=dict)

    @classmethod
    def of(cls, value: Recipient | str | Mapping[str, object]) -> Recipient:
        """Accept a ``Recipient``, an address or number, or a dict of the same fields."""
        if isinstance(value, Recipient):
            return value
        if isinstance(value, str):
            _one_person(value)
            name, _, to = value.rpartition("<")
            if to.endswith(">") and name.strip():  # "Ann Lee <ann@example.org>", "Ann <0770…>"
                return cls(to=to[:-1].strip(), name=name.strip().strip('"'))
            return cls(to=value)
        if isinstance(value, Mapping):
            try:
                return cls(**value)
            except TypeError:
                raise MessageError("recipients", f"{dict(value)!r} has unknown keys; a "
                                   "recipient has to, name, locale, timezone and context"
                                   ) from None
        raise MessageError("recipients", f"expected an address, a number or a Recipient, "
                                         f"got {value!r}")

    def details(self) -> dict[str, str]:
        """What templates see as ``recipient``: the fields that were given."""
        given = {"to": self.to, "name": self.name, "locale": self.locale,
                 "timezone": self.timezone}
        return {key: value for key, value in given.items() if value is not None}


def _values(context: Mapping[str, object], where: str) -> dict[str, object]:
    values = plain(context, where)
    if not isinstance(values, dict):
        raise MessageError(where, f"expected a dict of values by name, got {context!r}")
    if RESERVED in values:
        raise MessageError(f"{where}.{RESERVED}", f"{RESERVED!r} is filled in by postroom "
                           "with the recipient's details; give your value another name")
    return values


def shared_values(context: Mapping[str, object] | None) -> dict[str, object]:
    """The shared context of a send, checked once for all its recipients."""
    return _values(context or {}, "context")


def template_values(shared: Mapping[str, object], recipient: Recipient) -> dict[str, object]:
    """What one recipient's template sees: shared values, theirs over them, ``recipient``."""
    return {**shared, **_values(recipient.context, "recipient.context"),
            RESERVED: recipient.details()}
