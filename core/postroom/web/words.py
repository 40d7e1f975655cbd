"""Settings and times said in words for the admin page: pure functions, no I/O.

``schedule_in_words(schedule)`` gives "1 a minute, 09:00-17:00 Mon-Fri, at
most 500 a day" (with en dashes): what an admin reads on the Accounts page
instead of the TOML it came from.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path

import attrs

from postroom.scheduling import Schedule, Session, Window, per_minute_limit
from postroom.secrets import Secret

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DASH = "\N{EN DASH}"  # ranges, as people print them: 09:00-17:00


def count(number: float) -> str:
    """``1.0`` → ``1``, ``0.5`` → ``0.5``: a figure as people write it."""
    return f"{number:g}"


def days_in_words(days: Iterable[int]) -> str:
    """Weekday numbers (Monday 0) as ``Mon-Fri``, ``Sat, Sun`` or ``every day``."""
    chosen = sorted(set(days))
    if len(chosen) == 7:
        return "every day"
    runs: list[list[int]] = []
    for day in chosen:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(DAY_NAMES[r[0]] if len(r) == 1 else
                     f"{DAY_NAMES[r[0]]}{DASH if len(r) > 2 else ', '}{DAY_NAMES[r[-1]]}"
                     for r in runs)


def window_in_words(window: Window | Session) -> str:
    """``09:00-17:00 Mon-Fri``, or for a dated session ``09:00-12:00 Thu 3 Dec 2026`` (en
    dashes); a stretch past midnight says where it ends."""
    end = window.end.strftime("%H:%M") + (" next day" if window.end <= window.start else "")
    if isinstance(window, Session):
        day = window.day
        days = f"{day:%a} {day.day} {day:%b %Y}"
    else:
        days = days_in_words(window.days)
    return f"{window.start.strftime('%H:%M')}{DASH}{end} {days}"


def seconds_in_words(seconds: float) -> str:
    """``90`` → ``1.5 minutes``, ``7200`` → ``2 hours``, ``1`` → ``1 second``."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size or size == 1:
            amount = round(seconds / size, 1)
            return f"{count(amount)} {unit}{'' if amount == 1 else 's'}"
    raise AssertionError("unreachable: the last unit takes any figure")


def schedule_in_words(schedule: Schedule, default_zone: tzinfo | None = None,
                      on: date | None = None) -> str:
    """An account's limits and windows in one line for people.

    Rates first, then windows (``any time`` without any), the daily cap,
    gaps and stagger; the time zone is named when it is not ``default_zone``.
    A cap with windows and no rate is shown as the rate it comes to ``on``
    (default today), as the worker spreads it.
    """
    parts = []
    for limit, span in ((schedule.per_second, "a second"), (schedule.per_minute, "a minute"),
                        (schedule.per_hour, "an hour")):
        if limit is not None:
            parts.append(f"{count(limit)} {span}")
    if not parts and schedule.daily_cap is not None and schedule.restricted:
        spread = per_minute_limit(schedule, on or datetime.now(schedule.timezone).date())
        if spread is not None:
            parts.append(f"{count(spread)} a minute (the daily cap spread over the windows)")
    if not parts:
        parts.append("no rate limit")
    windows = ", ".join(window_in_words(w) for w in (*schedule.windows, *schedule.sessions)) \
        or "any time"
    if default_zone is None or str(schedule.timezone) != str(default_zone):
        windows += f" ({schedule.timezone})"
    parts.append(windows)
    if schedule.daily_cap is not None:
        parts.append(f"at most {schedule.daily_cap} a day")
    if schedule.min_gap:
        parts.append(f"at least {seconds_in_words(schedule.min_gap)} apart")
    if schedule.stagger:
        parts.append(f"bulk sends one every {seconds_in_words(schedule.stagger)}")
    return ", ".join(parts)


def moment(epoch: float | None, zone: tzinfo, now: float | None = None) -> str:
    """A time as the page shows it: ``2026-03-04 09:30 GMT``, or ``-`` for none.

    With ``now``, a time on the same local day is shown as ``today 09:30:00 GMT``.
    """
    if epoch is None:
        return "-"
    when = datetime.fromtimestamp(epoch, UTC).astimezone(zone)
    if now is not None and when.date() == datetime.fromtimestamp(now, zone).date():
        return f"today {when.strftime('%H:%M:%S %Z')}"
    return when.strftime("%Y-%m-%d %H:%M %Z")


def settings_in_words(config: object, folder: Path | None = None) -> list[tuple[str, str]]:
    """A provider config's settings as ``(path, value)`` rows, for people.

    A secret shows only that it is set and where it comes from; a field the
    config's repr hides (``repr=False``) is left out, as it is there. A file
    in ``folder`` (the config's) shows as the file wrote it, relative to it.
    """
    rows: list[tuple[str, str]] = []
    for field in attrs.fields(type(config)):
        if field.repr:
            rows += _setting_rows(field.name, getattr(config, field.name), folder)
    return rows


def _setting_rows(path: str, value: object, folder: Path | None) -> list[tuple[str, str]]:
    if attrs.has(type(value)):
        return [(f"{path}.{sub}", shown) for sub, shown in settings_in_words(value, folder)]
    if isinstance(value, Mapping):
        return [row for key, item in value.items()
                for row in _setting_rows(f"{path}.{key}", item, folder)]
    if isinstance(value, Path) and folder is not None and value.is_relative_to(folder):
        return [(path, str(value.relative_to(folder)))]
    return [(path, _setting_value(value))]


def _setting_value(value: object) -> str:
    if isinstance(value, Secret):
        source = "the config file" if value.source == "config" else value.source
        return f"set, from {source}" if value else "empty"
    if value is None:
        return "not set"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_setting_value(item) for item in value) or "none"
    return str(value)
