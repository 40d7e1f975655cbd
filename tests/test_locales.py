"""Dates, times and money in the recipient's locale (Babel); English when it is unknown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from postroom import Recipient
from postroom.sms_text import segment
from postroom.templating import Templates, TemplateSettings
from postroom.templating.filters import money

AT = dt.datetime(2025, 3, 30, 7, 30, tzinfo=dt.UTC)  # 09:30 in Paris and Berlin (CEST)


def render(tmp_path: Path, text: str, locale: str | None, **context) -> str:
    (tmp_path / "probe").mkdir(exist_ok=True)
    (tmp_path / "probe" / "sms.txt").write_text(text)
    templates = Templates(TemplateSettings(directory=tmp_path, timezone="Europe/Paris"))
    recipient = Recipient(locale=locale, context={"at": AT, **context})
    return templates.render("probe", "sms", recipient=recipient).text


@pytest.mark.parametrize(("locale", "shown"), [
    ("fr", "dimanche 30 mars, 09:30 AM"),
    ("de", "Sonntag 30 März, 09:30 AM"),
    ("pt-BR", "domingo 30 março, 09:30 AM"),
    (None, "Sunday 30 March, 09:30 AM"),
    ("xx", "Sunday 30 March, 09:30 AM"),      # a locale Babel does not know: English
])
def test_strftime_names_are_in_the_recipients_language(tmp_path, locale, shown):
    assert render(tmp_path, "{{ at | datetime('%A %d %B, %H:%M %p') }}", locale) == shown


@pytest.mark.parametrize(("locale", "shown"), [
    ("fr", "30 mars 2025 | 09:30 | 30 mars 2025, 09:30"),
    ("de", "30. März 2025 | 09:30 | 30. März 2025, 09:30"),
    ("en-US", "March 30, 2025 | 9:30 AM | March 30, 2025, 9:30 AM"),
    (None, "30 March 2025 | 09:30 | 30 March 2025 09:30"),
])
def test_without_a_format_a_locale_writes_dates_its_own_way(tmp_path, locale, shown):
    text = "{{ at | date }} | {{ at | time }} | {{ at | datetime }}"
    assert render(tmp_path, text, locale) == shown


def test_named_formats(tmp_path):
    assert render(tmp_path, "{{ at | date('full') }}", "fr") == "dimanche 30 mars 2025"
    assert render(tmp_path, "{{ at | date('short') }}", "en-GB") == "30/03/2025"


@pytest.mark.parametrize(("amount", "currency", "locale", "shown"), [
    ("1234.565", "EUR", "fr", "1 234,57 €"),
    ("1234.5", "EUR", "de", "1.234,50 €"),
    ("12.5", "BRL", "pt-BR", "R$ 12,50"),
    ("1234.5", "JPY", "ja", "￥1,235"),          # no decimals in yen, rounded half up
    ("-3", "CHF", None, "-CHF 3.00"),
    ("12.5", "GBP", "xx", "£12.50"),
])
def test_money_in_the_recipients_locale(amount, currency, locale, shown):
    assert money(amount, currency, locale) == shown


def test_the_money_filter_takes_the_recipients_locale_and_keeps_sms_in_gsm7(tmp_path):
    text = render(tmp_path, "Total: {{ total | money('EUR') }}", "fr", total="1234.5")
    assert text == "Total: 1 234,50 €"
    assert segment(text).encoding == "GSM-7"  # plain spaces, not CLDR's no-break ones
    assert render(tmp_path, "{{ 5 | money('EUR', 'de') }}", "fr") == "5,00 €"


def test_a_plain_date_gets_localised_abbreviations(tmp_path):
    shown = render(tmp_path, "{{ day | date('%a %d %b') }}", "fr", day=dt.date(2025, 3, 30))
    assert shown == "dim. 30 mars"
