"""The filters templates get besides Jinja's own: times, money, phone numbers.

``date``, ``time``, ``datetime``
    ``{{ appointment | datetime }}``, ``{{ appointment | date("%A %d %B") }}``,
    ``{{ appointment | time("%H:%M", "America/New_York") }}``.
    The value is a time-zone-aware ``datetime`` or an ISO 8601 text with its
    offset (``2025-03-30T09:00:00+01:00``, ``...Z``); it is shown in the zone
    given, else the recipient's, else the organisation's (``timezone`` in
    the template settings). A time without a zone is refused, since guessing
    would silently move an appointment by hours. A plain ``date`` is shown as
    it is. The format is ``strftime``'s; names of days and months are English.
``money(currency)``
    ``{{ total | money("EUR") }}`` → ``€1,234.50``: two decimals, rounded
    half up, ``€ £ $`` for EUR, GBP and USD, the code otherwise (``CHF 12.00``).
``phone(style)``
    ``{{ office | phone }}`` → ``+44 20 7946 0000``; ``phone("national")`` →
    ``020 7946 0000``; ``phone("e164")`` → ``+442079460000``. Numbers without
    a country code are read with the configured region.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from postroom.addresses import phone_number

DATE_FORMAT = "%d %B %Y"
TIME_FORMAT = "%H:%M"
DATETIME_FORMAT = "%d %B %Y %H:%M"

_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}
_CENTS = Decimal("0.01")
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


def format_moment(value: object, fmt: str, zone: ZoneInfo, filter_name: str = "datetime") -> str:
    """Show ``value`` with ``fmt`` in ``zone`` (a date or a time of day is shown as it is)."""
    moment = _moment(value, filter_name)
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(zone)
    return moment.strftime(fmt)


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


def money(value: object, currency: str) -> str:
    """``12.5, "EUR"`` → ``€12.50``; ``-3, "CHF"`` → ``-CHF 3.00``."""
    amount = _amount(value).quantize(_CENTS, rounding=ROUND_HALF_UP)
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"money: {currency!r} is not a currency code such as 'EUR'")
    code = currency.upper()
    sign = "-" if amount < 0 else ""
    digits = f"{abs(amount):,.2f}"
    symbol = _SYMBOLS.get(code)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{code} {digits}"


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

    def moment_filter(filter_name: str, default_format: str) -> Callable:
        @pass_context
        def apply(context: Context, value: object, fmt: str = default_format,
                  tz: str | None = None) -> str:
            zone = zone_for(context, tz, filter_name)
            return format_moment(value, fmt, zone, filter_name)
        return apply

    def phone_filter(value: object, style: str = "international") -> str:
        return phone(value, style, region)

    return {
        "date": moment_filter("date", DATE_FORMAT),
        "time": moment_filter("time", TIME_FORMAT),
        "datetime": moment_filter("datetime", DATETIME_FORMAT),
        "money": money,
        "phone": phone_filter,
    }
