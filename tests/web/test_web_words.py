"""Limits, days, durations and settings in words, as the Accounts page shows them."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from attrs import define, field

from postroom.scheduling import Schedule, Window
from postroom.secrets import Secret
from postroom.web.words import (
    days_in_words,
    moment,
    schedule_in_words,
    seconds_in_words,
    settings_in_words,
)

LONDON = ZoneInfo("Europe/London")
WEEKDAYS = frozenset(range(5))


def office_hours(start: str = "09:00", end: str = "17:00", days=WEEKDAYS) -> Window:
    return Window(frozenset(days), time.fromisoformat(start), time.fromisoformat(end))


def test_the_schedule_the_admin_wrote_reads_as_one_line():
    schedule = Schedule((office_hours(),), LONDON, per_minute=1, daily_cap=500)

    assert schedule_in_words(schedule, LONDON) == \
        "1 a minute, 09:00\u201317:00 Mon\u2013Fri, at most 500 a day"


def test_no_limits_at_all():
    assert schedule_in_words(Schedule(), LONDON) == "no rate limit, any time (UTC)"


def test_every_kind_of_limit_and_another_time_zone():
    schedule = Schedule((office_hours("22:00", "06:00", {5, 6}),), ZoneInfo("Europe/Paris"),
                        per_second=0.5, per_hour=1000, min_gap=2, stagger=120)

    assert schedule_in_words(schedule, LONDON) == (
        "0.5 a second, 1000 an hour, 22:00\u201306:00 next day Sat, Sun (Europe/Paris), "
        "at least 2 seconds apart, bulk sends one every 2 minutes")


def test_a_cap_spread_over_the_windows_shows_the_rate_it_comes_to():
    schedule = Schedule((office_hours("09:00", "10:00"),), LONDON, daily_cap=600)

    words = schedule_in_words(schedule, LONDON, on=date(2026, 3, 2))

    assert words.startswith("10 a minute (the daily cap spread over the windows)")


@pytest.mark.parametrize(("days", "words"), [
    (range(7), "every day"),
    (range(5), "Mon\u2013Fri"),
    ({5, 6}, "Sat, Sun"),
    ({0, 2, 4}, "Mon, Wed, Fri"),
    ({0, 1, 2, 5}, "Mon\u2013Wed, Sat"),
])
def test_days(days, words):
    assert days_in_words(days) == words


@pytest.mark.parametrize(("seconds", "words"), [
    (1, "1 second"), (0.5, "0.5 seconds"), (90, "1.5 minutes"), (7200, "2 hours"),
    (86400 * 3, "3 days"),
])
def test_durations(seconds, words):
    assert seconds_in_words(seconds) == words


def test_times_today_and_other_days():
    monday_nine = 1772442000.0  # 2026-03-02 09:00 London (GMT)

    assert moment(monday_nine, LONDON, now=monday_nine + 3600) == "today 09:00:00 GMT"
    assert moment(monday_nine, LONDON, now=monday_nine + 86400) == "2026-03-02 09:00 GMT"
    assert moment(None, LONDON) == "-"


@define
class Inner:
    password: Secret
    port: int = 995


@define
class Settings:
    host: str
    secret: Secret
    empty: Secret
    inner: Inner
    headers: dict = field(factory=dict)
    names: list = field(factory=list)
    missing: str | None = None
    cached: str = field(default="hidden", repr=False)


def test_settings_show_where_secrets_come_from_never_their_values():
    config = Settings("mail.example.org", Secret("hunter2", "env SMTP_PASSWORD"), Secret(""),
                      Inner(Secret("pop-pass", "config")),
                      headers={"X-Key": Secret("hdr-secret", "file /etc/key")},
                      names=["a", Secret("listed", "config")])

    rows = dict(settings_in_words(config))

    assert rows == {
        "host": "mail.example.org",
        "secret": "set, from env SMTP_PASSWORD",
        "empty": "empty",
        "inner.password": "set, from the config file",
        "inner.port": "995",
        "headers.X-Key": "set, from file /etc/key",
        "names": "a, set, from the config file",
        "missing": "not set",
    }
    assert not any(word in str(rows) for word in ("hunter2", "pop-pass", "hdr-secret",
                                                   "listed", "hidden"))


@define
class Files:
    ca_file: Path
    elsewhere: Path


def test_a_file_beside_the_config_shows_as_written_one_elsewhere_in_full(tmp_path):
    config = Files(tmp_path / "certs" / "ca.pem", Path("/etc/ssl/certs/ca-certificates.crt"))

    rows = dict(settings_in_words(config, tmp_path))

    assert rows == {"ca_file": str(Path("certs", "ca.pem")),
                    "elsewhere": "/etc/ssl/certs/ca-certificates.crt"}
