"""The filters of a list page (the delivery log, the inbox), read from the query."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen
from starlette.requests import Request

from postroom.cli import parse_time
from postroom.engine import Engine
from postroom.errors import ConfigError

LIMITS = (50, 200, 1000)
"""How many of the newest a list shows, as offered."""


@frozen
class Filters:
    """The text of each filter as typed (``values``), how many to show, and ``since``
    read as epoch seconds; ``error`` says what could not be read."""

    values: dict[str, str]
    limit: int
    since: float | None
    error: str | None


def read_filters(request: Request, chosen: Engine, keys: Sequence[str]) -> Filters:
    """``keys`` from the query (``since`` among them: an age such as 2h, or a date),
    and ``limit``, kept within ``LIMITS``."""
    query = request.query_params
    values = {key: query.get(key, "").strip() for key in keys}
    asked = int(query["limit"]) if query.get("limit", "").isdigit() else LIMITS[0]
    since = error = None
    if values.get("since"):
        try:
            since = parse_time(values["since"], "since", chosen, past=True).timestamp()
        except ConfigError as exc:
            error = str(exc)
    return Filters(values, min(max(asked, 1), LIMITS[-1]), since, error)
