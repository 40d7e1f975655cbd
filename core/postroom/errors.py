"""Exceptions postroom raises, each worded for the person who has to act on it."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal


class PostroomError(Exception):
    """Base class for every error postroom raises on purpose."""


class ConfigError(PostroomError):
    """The configuration cannot be used.

    ``issues`` holds ``(path, message)`` pairs, the path naming the setting
    (``accounts.office.port``) so the admin knows exactly what to edit.
    """

    def __init__(self, issues: Iterable[tuple[str, str]]) -> None:
        self.issues = list(issues)
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [f"{path}: {message}" if path else message for path, message in self.issues]
        if len(lines) == 1:
            return lines[0]
        return "the configuration has {} problems:\n  {}".format(len(lines), "\n  ".join(lines))

    def under(self, prefix: str) -> ConfigError:
        """The same issues with their paths placed under ``prefix``."""
        return ConfigError((join_path(prefix, path), message) for path, message in self.issues)


class MessageError(PostroomError, ValueError):
    """A message cannot be sent as given; ``field`` names the part to fix."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class InsufficientCredits(PostroomError):
    """A bulk send would cost more than the account's balance (the pre-flight check).

    ``needed`` is the new send's cost, ``queued`` what the account's messages
    already in the outbox will take (``queued_messages`` of them).
    """

    def __init__(self, account: str, needed: object, balance: object, unit: str,
                 queued: object = 0, queued_messages: int = 0) -> None:
        self.account = account
        self.needed = needed
        self.balance = balance
        self.queued = queued
        self.queued_messages = queued_messages
        self.missing = needed + queued - balance  # type: ignore[operator]
        self.unit = unit
        if not queued_messages:
            super().__init__(f"account {account!r}: this send needs {amount(needed)} {unit} "
                             f"and the account has {amount(balance)}: {amount(self.missing)} "
                             "missing; top the account up or send to fewer people")
            return
        total = needed + queued  # type: ignore[operator]
        waiting = ("the message already queued needs" if queued_messages == 1 else
                   f"the {queued_messages} messages already queued need")
        super().__init__(f"account {account!r}: this send needs {amount(needed)} {unit} and "
                         f"{waiting} {amount(queued)}, {amount(total)} in all; "
                         f"the account has {amount(balance)}: "
                         f"{amount(self.missing)} missing; top the account up, or send to "
                         "fewer people (postroom queue shows what is waiting)")


class PluginError(PostroomError):
    """A plugin broke the hook contract, or no plugin can handle a request."""


class StoreError(PostroomError):
    """The outbox cannot be used as it is, and waiting will not help: its tables
    need an upgrade, a copy into it was refused, its file changed under the
    running process, or it belongs to another configuration. The text says what
    happened to which file, and what to do.

    ``usage`` marks errors the operator fixes by a command or a setting
    (``postroom store upgrade``, ``[store] url``) rather than by another try.
    """

    def __init__(self, message: str, usage: bool = False) -> None:
        self.usage = usage
        super().__init__(message)


class StoreUnavailable(PostroomError):
    """The outbox could not be read or written just now; the call changed nothing.

    ``problem`` is a short key scripts can match (``locked``, ``full``, ``io``,
    ``read-only``, ``cannot-open``, ``damaged``, ``failed``), ``where`` the file
    or server, ``detail`` what happened and ``hint`` what to do. Most pass by
    themselves or once an admin acts (a lock released, space freed), so a
    worker keeps what it knows in memory and tries again.
    """

    def __init__(self, problem: str, where: str, detail: str, hint: str) -> None:
        self.problem = problem
        self.where = where
        self.detail = detail
        self.hint = hint
        super().__init__(f"the outbox at {where} cannot be used: {detail}; {hint}")


def amount(value: object) -> str:
    """A number as people write it: ``2``, not ``2.0``; ``0.05``, not ``5E-2``."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def join_path(prefix: str, path: str) -> str:
    """Join setting paths, so ``accounts.office`` + ``port`` reads ``accounts.office.port``."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + (path if path.startswith("[") else "." + path)
