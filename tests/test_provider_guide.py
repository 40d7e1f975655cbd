"""The provider guide names what the core offers and removes.

A vendor writes a plugin from ``docs/writing-a-provider.md`` alone, so its
lists must follow the code: each test fails when the core gains a setting
type or a removed account key that the guide does not name.
"""

from __future__ import annotations

import inspect
import re
import typing
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from postroom import Secret, settings
from postroom.config import CORE_ACCOUNT_KEYS

GUIDE = Path(__file__).parents[1] / "docs" / "writing-a-provider.md"

# Classes of postroom.settings that are not types a setting is declared with.
NOT_SETTING_TYPES = {settings.ProviderConfig, settings.InvalidSetting, settings.Range,
                     settings.ConfigContext}

# Types defined elsewhere that postroom.settings' converter structures strictly.
IMPORTED_SETTING_TYPES = [Secret, Decimal, Path, time, date, ZoneInfo]


def table_after(marker: str) -> list[list[str]]:
    """The cells of each body row of the first Markdown table after ``marker``."""
    lines = GUIDE.read_text(encoding="utf-8").split(marker, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:  # past the header and its |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def named(cell: str) -> set[str]:
    """The names in a cell's code spans, without module or ``[...]``:
    ``pathlib.Path`` gives ``Path``, ``Literal[...]`` gives ``Literal``."""
    return {re.sub(r"\[.*", "", span).rsplit(".", 1)[-1]
            for span in re.findall(r"`([^`]+)`", cell)}


def type_rows() -> dict[str, str]:
    """Each type the guide's table of setting types names, with its whole row."""
    return {name: " | ".join(row)
            for row in table_after("and these are all there are:")
            for name in named(row[0])}


def setting_types() -> list[object]:
    """Every type a provider's config may declare a setting with: the NewTypes and
    classes postroom.settings defines, and the types it imports and structures."""
    own = [value for value in vars(settings).values()
           if isinstance(value, typing.NewType)
           or (inspect.isclass(value) and value.__module__ == settings.__name__
               and value not in NOT_SETTING_TYPES)]
    return own + IMPORTED_SETTING_TYPES


def test_the_guide_names_every_account_key_the_core_removes():
    rows = table_after("**Keys your plugin never sees.**")
    guide_keys = set().union(*(named(row[0]) for row in rows))
    assert set(CORE_ACCOUNT_KEYS) - guide_keys == set()
    assert guide_keys - set(CORE_ACCOUNT_KEYS) == set()  # no key the core leaves in


def test_the_table_of_setting_types_names_every_type():
    missing = {t.__name__ for t in setting_types()} - set(type_rows())
    assert missing == set()


@pytest.mark.parametrize("kind", list(settings.RANGES), ids=lambda kind: kind.__name__)
def test_each_numeric_type_shows_its_upper_bound(kind):
    # The upper bounds are the ones an admin meets by surprise (a 60-day timeout).
    high = settings.RANGES[kind].high
    assert f"{high:,.0f}" in type_rows()[kind.__name__]


def test_the_amount_type_shows_its_upper_bound():
    assert f"{settings.MAX_AMOUNT:,.0f}" in type_rows()["Decimal"]

