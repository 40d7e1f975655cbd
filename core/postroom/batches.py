"""Bulk sends by batch id: the id, the ids a send returns, and a batch's progress.

Every ``send`` or ``notify`` that queues more than one message gives them a
batch id (or takes the caller's), so the bulk send can be followed, cancelled
and looked up in the log as a whole. ``progress`` counts a batch's messages
by state and estimates, from each account's limits and windows, when the
last of them goes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from attrs import frozen

from postroom.errors import MessageError
from postroom.scheduling import estimate
from postroom.store import BatchRow

if TYPE_CHECKING:
    from postroom.config import Config
    from postroom.store import Store

MAX_LENGTH = 100


def new_batch_id(key: str | None = None) -> str:
    """A new batch id, ``b-`` and 12 hex digits; for an idempotency ``key`` always the
    same one, so a repeated send reports the batch its messages are in."""
    if key is None:
        return f"b-{uuid.uuid4().hex[:12]}"
    return f"b-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def checked_batch_id(value: str) -> str:
    """A caller's batch id, refused when it is empty, too long or has spaces."""
    if not value or len(value) > MAX_LENGTH or not value.isprintable() or any(
            c.isspace() for c in value):
        raise MessageError("batch", f"expected a batch id of 1 to {MAX_LENGTH} printable "
                                    f"characters without spaces, got {value!r}")
    return value


class SentIds(list[str]):
    """The message ids ``Engine.send`` returns: a list as before, plus ``batch``,
    the id of the bulk send they belong to (None for a single message)."""

    def __init__(self, ids: Iterable[str], batch: str | None) -> None:
        super().__init__(ids)
        self.batch = batch


@frozen
class BatchProgress:
    """A bulk send's messages by state, over its ``accounts``, and ``finish``:
    when its last message is expected to go (None when none is left, or an
    account's limits cannot say), with the estimate's ``warning``."""

    batch: str
    accounts: list[BatchRow]
    finish: float | None
    warning: str | None = None

    def _sum(self, name: str) -> int:
        return sum(getattr(row, name) for row in self.accounts)

    @property
    def sent(self) -> int:
        return self._sum("sent")

    @property
    def dead(self) -> int:
        return self._sum("dead")

    @property
    def waiting(self) -> int:
        """Still queued: due now or later."""
        return self._sum("waiting") + self._sum("scheduled")

    @property
    def in_flight(self) -> int:
        return self._sum("in_flight")

    @property
    def cancelled(self) -> int:
        return self._sum("cancelled")

    @property
    def left(self) -> int:
        return self.waiting + self.in_flight

    @property
    def total(self) -> int:
        return self.sent + self.dead + self.left + self.cancelled

    @property
    def created(self) -> float:
        return min(row.created for row in self.accounts)


def progress(config: Config, store: Store, now: float, batch: str | None = None,
             since: float | None = None) -> list[BatchProgress]:
    """The progress of ``batch``, or of every batch with messages still to go
    (and those queued since ``since``), oldest first."""
    grouped: dict[str, list[BatchRow]] = {}
    for row in store.batches(now, batch, since):
        grouped.setdefault(row.batch, []).append(row)
    pauses = store.pauses(now)
    found = []
    for name, rows in grouped.items():
        finishes, warning = [], None
        for row in rows:
            if not row.left:
                continue
            account = config.accounts.get(row.account)
            if account is None:  # dropped from the config: nothing will send it
                finishes = None
                break
            pause = pauses.get(row.account)
            start = max(now, row.first_due or now, pause.until if pause else now)
            try:
                found_estimate = estimate(account.schedule, max(row.ahead, row.left),
                                          datetime.fromtimestamp(start, UTC),
                                          store.usage(row.account, account.schedule),
                                          config.delivery.warn_after_days)
            except ValueError:  # limits that never open
                finishes = None
                break
            finishes.append(found_estimate.finish.timestamp())
            warning = warning or found_estimate.warning
        finish = max(finishes) if finishes else None
        found.append(BatchProgress(name, rows, finish, warning))
    return found
