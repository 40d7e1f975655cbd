"""The filters templates get besides Jinja's own: times, money, phone numbers.

Dates, times and money are written in the recipient's locale (``Recipient(locale="fr")``),
with Babel's CLDR data; English for recipients without a locale, or with one
Babel does not know. See ``postroom.templating.locales``.

``date``, ``time``, ``datetime``
    ``{{ appointment | datetime }}``, ``{{ appointment | date("%A %d %B") }}``,
    ``{{ appointment | time("%H:%M", "America/New_York") }}``, ``{{ appointment | date("long") }}``.
    The value is a time-zone-aware ``datetime`` or an ISO 8601 text with its
    offset (``2025-03-30T09:00:00+01:00``, ``...Z``); it is shown in the zone
    given, else the recipient's, else the organisation's (``timezone`` in
    the template settings). A time without a zone is refused, since guessing
    would silently move an appointment by hours. A plain ``date`` is shown as
    it is. The format is ``strftime``'s, with the names of days and months
    (``%A %a %B %b``) and AM/PM (``%p``) in the recipient's language, or one
    of Babel's named formats: ``short``, ``medium``, ``long``, ``full``.
    Without a format, a recipient with a locale gets that locale's long date
    and short time (``30 mars 2025``, ``30. März 2025, 09:30``); one without
    gets ``30 March 2025`` and ``09:30``.
``money(currency)``
    ``{{ total | money("EUR") }}`` → ``€1,234.50`` in English, ``1 234,50 €``
    in French: rounded half up to the currency's digits (none for JPY).
``phone(style)``
    ``{{ office | phone }}`` → ``+44 20 7946 0000``; ``phone("national")`` →
    ``020 7946 0000``; ``phone("e164")`` → ``+442079460000``. Numbers without
    a country code are read with the configured region.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from postroom.addresses import phone_number
from postroom.templating.locales import (
    NAMED_FORMATS,
    Locale,
    locale_of,
    money_text,
    named_format,
    strftime,
)

DATE_FORMAT = "%d %B %Y"
TIME_FORMAT = "%H:%M"
DATETIME_FORMAT = "%d %B %Y %H:%M"
DEFAULTS = {"date": DATE_FORMAT, "time": TIME_FORMAT, "datetime": DATETIME_FORMAT}

_PHONE_STYLES = {
    "international": phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    "national": phonenumbers.PhoneNumberFormat.NATIONAL,
    "e164": phonenumbers.PhoneNumberFormat.E164,
}


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name`` (``Europe/Paris``); ``ValueError`` says how to fix it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as "
                         "'Europe/Paris' or 'America/New_York'") from None


def _defined(value: object) -> None:
    """A missing variable handed to a filter is reported as missing, not as a bad value."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def _moment(value: object, filter_name: str) -> dt.date | dt.time:
    _defined(value)
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{filter_name}: {value!r} is not an ISO 8601 date or time "
                             "such as 2025-03-30T09:00:00+01:00") from None
    if isinstance(value, dt.datetime | dt.time) and value.utcoffset() is None:
        raise ValueError(f"{filter_name}: {value.isoformat()} has no time zone, so the time "
                         "it means is unknown; pass an aware datetime or add the offset "
                         "(+01:00, Z)")
    if not isinstance(value, dt.date | dt.time):
        raise ValueError(f"{filter_name}: expected a date or time, got {value!r}")
    return value


def format_moment(value: object, fmt: str | None, zone: ZoneInfo, filter_name: str = "datetime",
                  locale: Locale | None = None) -> str:
    """Show ``value`` in ``zone`` (a date or a time of day as it is) with ``fmt``:
    ``strftime``'s directives or a named format; None is the filter's default."""
    moment = _moment(value, filter_name)
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(zone)
    chosen = locale or locale_of(None)
    if fmt is None:
        if locale is None or locale == locale_of(None):
            fmt = DEFAULTS[filter_name]
        else:
            fmt = "short" if filter_name == "time" else "long"
    if fmt in NAMED_FORMATS:
        return named_format(moment, filter_name, fmt, chosen)
    return strftime(moment, fmt, chosen)


def _amount(value: object) -> Decimal:
    _defined(value)
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"money: expected an amount, got {value!r}")
    try:
        # str() of a float is its shortest exact-looking form: 0.1 stays 0.1.
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"money: {value!r} is not an amount such as 12.50") from None
    if not amount.is_finite():
        raise ValueError(f"money: {value!r} is not an amount such as 12.50")
    return amount


def money(value: object, currency: str, locale: str | None = None) -> str:
    """``12.5, "EUR"`` → ``€12.50`` (``12,50 €`` with ``locale="fr"``); ``-3, "CHF"`` →
    ``-CHF 3.00``."""
    amount = _amount(value)
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"money: {currency!r} is not a currency code such as 'EUR'")
    return money_text(amount, currency.upper(), locale_of(locale))


def phone(value: object, style: str = "international", region: str | None = None) -> str:
    """Format a phone number ``international`` (default), ``national`` or ``e164``."""
    return _formatted_phone(str(value), style, region)


@lru_cache(maxsize=4096)  # an office's number comes back in every message of a send
def _formatted_phone(value: str, style: str, region: str | None) -> str:
    if style not in _PHONE_STYLES:
        raise ValueError(f"phone: unknown style {style!r}; use one of "
                         + ", ".join(repr(s) for s in _PHONE_STYLES))
    try:
        e164 = phone_number(value, region)
    except ValueError as exc:
        raise ValueError(f"phone: {exc}") from None
    return phonenumbers.format_number(phonenumbers.parse(e164), _PHONE_STYLES[style])


def template_filters(default_zone: ZoneInfo, region: str | None) -> dict[str, Callable]:
    """The filters bound to the organisation's time zone and phone region."""

    def zone_for(context: Context, tz: str | None, filter_name: str) -> ZoneInfo:
        recipient = context.get("recipient")
        name = tz or (recipient.get("timezone") if isinstance(recipient, dict) else None)
        if name is None:
            return default_zone
        try:
            return time_zone(name)
        except ValueError as exc:
            raise ValueError(f"{filter_name}: {exc}") from None

    def locale_for(context: Context) -> Locale | None:
        recipient = context.get("recipient")
        tag = recipient.get("locale") if isinstance(recipient, dict) else None
        return locale_of(tag) if tag else None

    def moment_filter(filter_name: str) -> Callable:
        @pass_context
        def apply(context: Context, value: object, fmt: str | None = None,
                  tz: str | None = None) -> str:
            zone = zone_for(context, tz, filter_name)
            return format_moment(value, fmt, zone, filter_name, locale_for(context))
        return apply

    @pass_context
    def money_filter(context: Context, value: object, currency: str,
                     locale: str | None = None) -> str:
        chosen = locale or (context.get("recipient") or {}).get("locale")
        return money(value, currency, chosen)

    def phone_filter(value: object, style: str = "international") -> str:
        return phone(value, style, region)

    return {
        "date": moment_filter("date"),
        "time": moment_filter("time"),
        "datetime": moment_filter("datetime"),
        "money": money_filter,
        "phone": phone_filter,
    }
