"""Dates, times and money as a recipient's locale writes them, from Babel's CLDR data.

A locale Babel does not know (or none) is English. No-break spaces, which
CLDR puts between a French amount and its symbol or in its thousands, are
written as plain spaces: they are not in the GSM-7 alphabet, and one of them
would make a whole SMS UCS-2, halving its length per segment.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import (
    format_date,
    format_time,
    get_day_names,
    get_month_names,
    get_period_names,
)
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol

ENGLISH = Locale("en")
NAMED_FORMATS = ("short", "medium", "long", "full")
"""Babel's format names: ``date("long")`` is ``30 mars 2025`` in French."""
_NO_BREAK = str.maketrans({"\u00a0": " ", "\u202f": " "})
_DIRECTIVE = re.compile(r"%(.)")


@lru_cache(maxsize=256)
def locale_of(tag: str | None) -> Locale:
    """The Babel locale for ``fr`` or ``pt-BR``; English when unknown or None."""
    if not tag:
        return ENGLISH
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return ENGLISH


def _plain(text: str) -> str:
    return text.translate(_NO_BREAK)


def _name(moment: dt.date | dt.time, directive: str, locale: Locale) -> str | None:
    """The localised text of one name directive, None for the others (left to strftime)."""
    if isinstance(moment, dt.date) and directive in "AaBb":
        width = "wide" if directive in "AB" else "abbreviated"
        if directive in "Aa":
            return get_day_names(width, locale=locale)[moment.weekday()]
        return get_month_names(width, locale=locale)[moment.month]
    if isinstance(moment, dt.datetime | dt.time) and directive == "p":
        periods = get_period_names(locale=locale)
        period = "am" if moment.hour < 12 else "pm"
        return periods.get(period)
    return None


def strftime(moment: dt.date | dt.time, fmt: str, locale: Locale) -> str:
    """``strftime`` with the names of days, months and AM/PM in ``locale``."""

    def named(match: re.Match) -> str:
        found = _name(moment, match.group(1), locale)
        return match.group(0) if found is None else found.replace("%", "%%")

    return _plain(moment.strftime(_DIRECTIVE.sub(named, fmt)))


def named_format(moment: dt.date | dt.time, kind: str, name: str, locale: Locale) -> str:
    """``moment`` in one of Babel's named formats; ``kind`` is date, time or datetime."""
    if kind == "date" or (kind == "datetime" and not isinstance(moment, dt.datetime)):
        return _plain(format_date(moment, name, locale=locale))
    if kind == "time":
        return _plain(format_time(moment, name, locale=locale))
    pattern = locale.datetime_formats["medium"]  # how the locale joins a date and a time
    return _plain(str(pattern).replace("{0}", format_time(moment, "short", locale=locale))
                  .replace("{1}", format_date(moment, name, locale=locale)))


def money_text(amount: Decimal, code: str, locale: Locale) -> str:
    """``amount`` of currency ``code`` as ``locale`` writes it, rounded half up to the
    currency's digits: ``€12.50`` in English, ``12,50 €`` in French, ``¥1,234`` for JPY."""
    exponent = Decimal(1).scaleb(-get_currency_precision(code))
    rounded = amount.quantize(exponent, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-€0.00" for what rounds to nothing
    text = format_currency(rounded, code, locale=locale)
    symbol = get_currency_symbol(code, locale=locale)
    # CLDR's currency spacing: a symbol that is a code (CHF) is kept off the digits.
    if symbol[-1:].isalpha():
        text = re.sub(re.escape(symbol) + r"(?=\d)", symbol + " ", text)
    if symbol[:1].isalpha():
        text = re.sub(r"(?<=\d)" + re.escape(symbol), " " + symbol, text)
    return _plain(text)
