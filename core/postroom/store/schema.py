"""Schema versions: each store's tables, built up step by step, and the check at start.

Every store keeps the number of the last step applied in its ``schema_version``
table. A new, empty store is built to the latest version when first opened; an
older one is only upgraded by ``postroom store upgrade``, so that a worker of a
new release never changes the tables under the workers of the old one. Steps
run in one transaction: an upgrade that fails leaves the outbox as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from attrs import frozen

from postroom.errors import StoreError

UPGRADE_COMMAND = "postroom store upgrade"
DEFAULT_SCHEMA = "postroom"
"""The PostgreSQL schema the tables go in unless ``[store] schema`` says otherwise."""
#: The names a server database's schema (``[store] schema``) may have: a plain
#: lower-case identifier, written into SQL text as is and into a channel name.
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,49}")
SCHEMA_HINT = "a lower-case name of letters, digits and _ (at most 50), such as postroom"


@frozen
class Step:
    """One change to a store's tables: ``version`` is the number it brings it to."""

    version: int
    what: str
    apply: Callable[[Any], None]


def latest(steps: Sequence[Step]) -> int:
    """The version the steps build."""
    return steps[-1].version


def to_apply(steps: Sequence[Step], current: int, where: str, upgrade: bool) -> list[Step]:
    """The steps to run on a store at version ``current`` (0: a new, empty one).

    A new store gets every step. An older one gets them only when ``upgrade``
    is asked for; otherwise a ``StoreError`` says what to run. A store written
    by a newer postroom is refused too: this one does not know its tables.
    """
    if current > latest(steps):
        raise StoreError(f"the outbox {where} has schema version {current}, made by a newer "
                         f"postroom than this one (which knows up to {latest(steps)}): "
                         "install the same postroom release on every host", usage=True)
    todo = [step for step in steps if step.version > current]
    if todo and current and not upgrade:
        raise StoreError(f"the outbox {where} has schema version {current} and this postroom "
                         f"needs {latest(steps)}: run `{UPGRADE_COMMAND}` (with the same "
                         "config) once, with the workers stopped; it keeps every queued "
                         "message", usage=True)
    return todo
