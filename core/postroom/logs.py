"""Log records an operator can read: a time and a level on every line, text or JSON.

postroom logs to loggers named ``postroom.*`` (plugins to their own, such as
``postroom_smtp``) and never configures logging as a library: an application
keeps whatever it set up. The ``postroom`` command, and an application that
wants postroom's format, call ``configure_logging``.

Some records are events: ``event`` logs one with a name and fields (account,
message id, outcome...). The text format shows the sentence; the JSON format
writes one object per line with the fields as they are, for log collectors::

    {"time": "2026-03-04T09:30:00.123Z", "level": "info", "logger": "postroom.worker",
     "event": "attempt", "account": "office", "message_id": "...", "outcome": "accepted", ...}
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Literal

from attrs import define

Level = Literal["debug", "info", "warning", "error"]
Format = Literal["text", "json"]
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@define
class LoggingSettings:
    """``[logging]``: how much the ``postroom`` command logs, and how.

    ``level`` unset: ``info`` for ``postroom worker``, ``warning`` for the
    other commands. Options given on the command line win.
    """

    level: Level | None = None
    format: Format = "text"


def event(logger: logging.Logger, level: int, name: str, sentence: str, /,
          **fields: object) -> None:
    """Log ``sentence`` as the event ``name`` with ``fields`` (plain values, no secrets)."""
    logger.log(level, sentence, extra={"event": name, "fields": fields})


def _utc(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, the event's
    fields, and the traceback as ``error`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {"time": _utc(record.created),
                                   "level": record.levelname.lower(),
                                   "logger": record.name, "message": record.getMessage()}
        name = getattr(record, "event", None)
        if name:
            data["event"] = name
            fields: Mapping[str, object] = getattr(record, "fields", {})
            data.update({key: value for key, value in fields.items() if key not in data})
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-03-04T09:30:00.123Z INFO postroom.worker: ...``, times in UTC."""

    def __init__(self) -> None:
        super().__init__(TEXT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record.created)


class _Handler(logging.StreamHandler):
    """The handler ``configure_logging`` installs, told apart from an application's."""


def configure_logging(settings: LoggingSettings | None = None, *, level: str | None = None,
                      format: str | None = None, stream: IO[str] | None = None,
                      default_level: str = "warning") -> bool:
    """Log to ``stream`` (standard error) at ``level`` in ``format``, for a process
    postroom runs (the ``postroom`` command, a worker an application starts).

    ``level`` and ``format`` win over ``settings`` (``[logging]``), which win
    over ``default_level`` and text. When the application has set up logging
    itself (the root logger has handlers that are not postroom's), nothing is
    changed and False comes back: its handlers already get postroom's records.
    """
    root = logging.getLogger()
    if any(not isinstance(handler, _Handler) for handler in root.handlers):
        return False
    chosen_level = (level or (settings.level if settings else None) or default_level).upper()
    chosen_format = format or (settings.format if settings else "text")
    for old in root.handlers:
        root.removeHandler(old)
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(chosen_level)
    return True
