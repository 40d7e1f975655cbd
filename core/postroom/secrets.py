"""Secrets: values that must never be printed, logged or kept in a repr.

In configuration a secret is written as a literal string, as
``{ env = "VAR" }`` (read from the environment) or ``{ file = "path" }``
(read from a file, trailing newline dropped). Only ``reveal()`` hands out
the value, and only provider code that talks to the server should call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from postroom.errors import ConfigError


class Secret:
    """A value that prints as ``***`` wherever it ends up."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str = "code") -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        """The secret itself: pass it to the server, never to a log."""
        return self._value

    @property
    def source(self) -> str:
        """Where the value came from (``env OFFICE_PASSWORD``), safe to show."""
        return self._source

    def __repr__(self) -> str:
        return f"Secret(<from {self._source}>)"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):
        # Pickling would copy the value into caches and queues; refuse loudly.
        raise TypeError("a Secret cannot be pickled")


def resolve_secret(raw: object, base_dir: Path, environ: Mapping[str, str]) -> Secret:
    """Turn a configured secret reference into a ``Secret``.

    Raises ``ConfigError`` with an empty path (the caller knows the field);
    the message never contains the secret itself.
    """
    if isinstance(raw, Secret):
        return raw
    if isinstance(raw, str):
        return Secret(raw, "config")
    if isinstance(raw, Mapping) and len(raw) == 1:
        (kind, where), = raw.items()
        if kind == "env" and isinstance(where, str):
            if where not in environ:
                raise ConfigError([("", f"environment variable {where} is not set; "
                                        "export it before running postroom")])
            return Secret(environ[where], f"env {where}")
        if kind == "file" and isinstance(where, str):
            path = (base_dir / where).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                message = f"cannot read secret file {path}: {exc.strerror}"
                raise ConfigError([("", message)]) from None
            return Secret(text.rstrip("\r\n"), f"file {path}")
    raise ConfigError([("", 'expected a string, { env = "VAR" } or { file = "path" }')])
