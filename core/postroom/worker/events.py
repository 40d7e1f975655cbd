"""What a worker tells the world as it goes: each try, each batch, each change of an account.

The worker hands these events to its ``Watcher`` objects: ``LogEvents``
writes each as a structured log record (``postroom.logs.event``), the
metrics (``postroom.metrics``) count them, ``BatchProgressLog`` follows the
bulk sends. A watcher that raises is logged and left out of that event: a
broken watcher never stops sending.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from attrs import field, frozen

from postroom.batches import progress
from postroom.logs import event

if TYPE_CHECKING:
    from postroom.config import Config
    from postroom.store import Store

log = logging.getLogger("postroom.worker")


@frozen
class Attempt:
    """One try of one message: the provider's ``outcome`` (``accepted``,
    ``transient``...), what became of the message (``state``: ``sent``,
    ``dead`` or ``queued`` again) and how long the plugin took (``duration``,
    seconds). ``text`` is the provider's answer, as the delivery log keeps it."""

    account: str
    provider: str
    message_id: str
    batch: str | None
    outcome: str
    state: str
    attempt: int
    provider_id: str | None
    code: str | None
    text: str
    duration: float


@frozen
class BatchDone:
    """A claimed batch finished: how many messages, what became of them,
    and the bulk sends (``batches``, ids) they belong to."""

    account: str
    provider: str
    size: int
    sent: int
    dead: int
    put_back: int
    duration: float
    batches: tuple[str, ...] = field(default=(), converter=tuple)


@frozen
class AccountChange:
    """An account's state changed: ``paused`` (throttled, out of credit,
    cooling down), ``unreachable``, ``reachable`` again, or ``resumed`` (its
    pause ran out); ``until`` and ``reason`` for a pause."""

    account: str
    change: str
    reason: str = ""
    until: float | None = None


class Watcher:
    """Receives a worker's events; override what you need."""

    def attempted(self, attempt: Attempt) -> None:
        """A message was tried."""

    def batch_done(self, done: BatchDone) -> None:
        """A claimed batch was sent (or stopped, its rest given back)."""

    def account_changed(self, change: AccountChange) -> None:
        """An account paused, resumed, or was found unreachable or reachable."""


class Watchers(Watcher):
    """Hands each event to several watchers; one that raises is logged and skipped."""

    def __init__(self, watchers: Sequence[Watcher]) -> None:
        self.watchers = tuple(watchers)

    def _each(self, call: Callable[[Watcher], None]) -> None:
        for watcher in self.watchers:
            try:
                call(watcher)
            except Exception:  # a watcher's bug must not stop sending
                log.exception("%s failed on a worker event", type(watcher).__name__)

    def attempted(self, attempt: Attempt) -> None:
        self._each(lambda w: w.attempted(attempt))

    def batch_done(self, done: BatchDone) -> None:
        self._each(lambda w: w.batch_done(done))

    def account_changed(self, change: AccountChange) -> None:
        self._each(lambda w: w.account_changed(change))


def when(epoch: float) -> str:
    """An epoch time as ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class LogEvents(Watcher):
    """Each event as one log record: a sentence, and its fields for JSON logs.

    Tries are ``info`` (``error`` when the message is dead for good), pauses
    and outages ``warning``. Recipients are not logged: the message id leads
    to them in the delivery log.
    """

    def attempted(self, attempt: Attempt) -> None:
        level = logging.ERROR if attempt.state == "dead" else logging.INFO
        if not log.isEnabledFor(level):  # a bulk send makes thousands: skip the sentences
            return
        what = {"sent": "sent", "dead": "failed for good",
                "queued": "to be tried again"}[attempt.state]
        detail = " ".join(part for part in (attempt.code, attempt.text) if part)
        event(log, level, "attempt",
              f"message {attempt.message_id} by account {attempt.account}: {attempt.outcome}, "
              f"{what}" + (f" (provider id {attempt.provider_id})" if attempt.provider_id
                           else "") + (f": {detail}" if detail else "")
              + f" in {attempt.duration:.3f} s",
              account=attempt.account, provider=attempt.provider,
              message_id=attempt.message_id, batch=attempt.batch, outcome=attempt.outcome,
              state=attempt.state, attempt=attempt.attempt, provider_id=attempt.provider_id,
              code=attempt.code, text=attempt.text, duration=round(attempt.duration, 6))

    def batch_done(self, done: BatchDone) -> None:
        event(log, logging.INFO, "batch",
              f"account {done.account}: a batch of {done.size} in {done.duration:.2f} s: "
              f"{done.sent} sent, {done.dead} failed for good, {done.put_back} back in the queue",
              account=done.account, provider=done.provider, size=done.size, sent=done.sent,
              dead=done.dead, put_back=done.put_back, duration=round(done.duration, 6),
              batches=list(done.batches))

    def account_changed(self, change: AccountChange) -> None:
        texts = {
            "paused": f"account {change.account} paused until "
                      f"{when(change.until or 0)}: {change.reason}",
            "unreachable": f"account {change.account} cannot be reached, paused until "
                           f"{when(change.until or 0)}, then one batch tries again: "
                           f"{change.reason}",
            "reachable": f"account {change.account} can be reached again",
            "resumed": f"account {change.account} may send again: its pause ended",
        }
        event(log, logging.WARNING if change.change in ("paused", "unreachable")
              else logging.INFO, f"account_{change.change}", texts[change.change],
              account=change.account, change=change.change, reason=change.reason,
              until=None if change.until is None else when(change.until))


class BatchProgressLog(Watcher):
    """Logs how each bulk send this worker serves is going (over every worker):
    after the first message of it this worker finishes, then every ``every``
    messages or ``seconds`` seconds, whichever comes first."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], float],
                 every: int = 100, seconds: float = 30.0) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.every = every
        self.seconds = seconds
        self._done: dict[str, int] = {}  # messages finished since the last line, per batch
        self._last: dict[str, float] = {}

    def attempted(self, attempt: Attempt) -> None:
        if attempt.batch is not None and attempt.state != "queued":
            self._done[attempt.batch] = self._done.get(attempt.batch, 0) + 1

    def batch_done(self, done: BatchDone) -> None:
        if not log.isEnabledFor(logging.INFO):  # the count costs a query over the batch
            return
        now = time.monotonic()
        for batch in done.batches:
            count = self._done.get(batch, 0)
            due = count >= self.every or now - self._last.get(batch, now - self.seconds) \
                >= self.seconds
            if not count or not due:
                continue
            found = progress(self.config, self.store, self.clock(), batch)
            if not found:
                continue
            state = found[0]
            self._done[batch], self._last[batch] = 0, now
            finish = "done" if not state.left else (
                f"the last expected {when(state.finish)}" if state.finish else
                "no estimate of the last")
            event(log, logging.INFO, "batch_progress",
                  f"batch {batch}: {state.sent} sent, {state.dead} failed, {state.waiting} "
                  f"waiting, {state.in_flight} in flight of {state.total}; {finish}",
                  batch=batch, sent=state.sent, dead=state.dead, waiting=state.waiting,
                  in_flight=state.in_flight, cancelled=state.cancelled, total=state.total,
                  finish=None if state.finish is None else when(state.finish))
