"""What the engine asks of a store, and the records that pass in and out.

Times are seconds since the epoch (UTC) as floats: every backend stores them
the same way and the scheduling code turns them into datetimes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from attrs import field, frozen

from postroom.messages import Message
from postroom.scheduling import Schedule, Usage


@frozen
class NewMessage:
    """A message to enqueue: for ``account``, not before ``not_before``.

    ``manual`` marks an operator's "send now" (skips stagger and windows).
    ``idempotency_key``: enqueuing the same key again is a no-op. ``route``
    names the channel group (``sms``) whose other accounts may take over.
    """

    account: str
    message: Message
    not_before: float
    manual: bool = False
    idempotency_key: str | None = None
    route: str | None = None


@frozen
class Claimed:
    """A message a worker holds under lease, with how many tries it has had and
    when it fell due (``due``: kept when the account, not the message, failed)."""

    account: str
    message: Message
    attempts: int
    manual: bool
    route: str | None = None
    due: float = 0.0


@frozen
class Claim:
    """What one ``claim`` took: ``messages`` under one lease and one ``token``.

    The token is written on every message taken; ``renew``, ``record`` and
    ``release`` change only the messages that still carry it, so a worker whose
    lease ran out (and whose messages another worker took) changes nothing,
    but a "sent". ``lease_until`` is when the lease ends unless renewed;
    ``probe`` marks the one batch allowed to try an account that could not be
    reached. With no messages, ``wake`` is the earliest time a claim of the
    account may take something (limits, a pause, a probe under way), or None
    when nothing is due.
    """

    account: str
    token: str
    messages: tuple[Claimed, ...] = field(default=(), converter=tuple)
    lease_until: float = 0.0
    probe: bool = False
    wake: float | None = None


@frozen
class Disposition:
    """What becomes of a claimed message after a try.

    ``state``: ``sent``, ``dead`` (failed for good) or ``queued`` (try again
    at ``not_before``). ``at`` is when the provider's answer came: a sent
    message's completion time, which the rate limits count. ``counted`` says
    whether the try counts against the retry limit (throttling, a stopped or
    unreachable account do not). ``log`` is the delivery-log entry for this
    try, or None when logging is off. ``account`` moves the message to another
    account of its route (failover).
    """

    message_id: str
    state: str
    at: float
    not_before: float = 0.0
    counted: bool = True
    provider_id: str | None = None
    error: str | None = None
    log: LogEntry | None = None
    account: str | None = None


@frozen
class LogEntry:
    """One attempt to deliver one message, as ``postroom log`` shows it."""

    message_id: str
    at: float
    account: str
    provider: str
    recipient: str
    summary: str
    outcome: str
    attempt: int = 1
    provider_id: str | None = None
    code: str | None = None
    text: str = ""
    cost: str | None = None
    currency: str | None = None
    info: dict[str, str] = field(factory=dict)


@frozen
class StoredMessage:
    """What the outbox knows of one message, for reports that arrive later."""

    id: str
    account: str
    recipient: str
    summary: str
    state: str
    attempts: int
    provider_id: str | None


@frozen
class QueueRow:
    """Counts for ``postroom queue``: per account, how many are in each state.

    ``waiting`` are due now, ``scheduled`` due later, ``in_flight`` claimed by
    a worker, ``dead`` failed for good, ``cancelled`` cancelled by an operator,
    ``sent`` sent since ``since``; ``retrying``, of the ``scheduled``, those
    waiting for another try after a failed one.
    """

    account: str
    waiting: int
    scheduled: int
    in_flight: int
    dead: int
    cancelled: int
    sent: int
    next_due: float | None
    retrying: int = 0


@frozen
class Handled:
    """One message an operator's ``cancel`` or ``requeue`` named or reached.

    ``state`` is what the outbox held before the call (``unknown`` for an id
    it does not have, with ``account`` None); ``changed`` says whether the call
    changed it. ``caveat``, for people, is a doubt about a change the engine
    adds: one cancelled in flight (``state`` ``inflight``, ``changed``) after
    its worker's lease ran out may have been sent by that worker all the same.
    """

    message_id: str
    account: str | None
    state: str
    changed: bool
    recipient: str = ""
    summary: str = ""
    caveat: str = ""


#: Makes the delivery-log entry for a message an operator changed, from the
#: outbox's record of it as it was; None writes no entry.
Note = Callable[[StoredMessage], LogEntry] | None


@frozen
class AccountPause:
    """An account that must not send until ``until``, and why. ``kind`` is
    ``unreachable`` for an outage (lifted as soon as a probe gets through)
    and ``pause`` for the rest (throttled, out of credit, held, cooling down)."""

    account: str
    until: float
    reason: str
    kind: str = "pause"


class Store(Protocol):
    """Storage for the outbox and the delivery log.

    Every method is atomic. A message is durable once ``enqueue`` returns; a
    claim lasts ``lease`` seconds unless renewed, after which another worker
    may take the message again, so a worker that dies loses nothing. The
    store is the only state workers share: the account's limits are decided
    in ``claim``'s transaction with ``postroom.store.accounting``, so any
    number of workers on any number of hosts keep to them together.

    A method that cannot reach or write the storage raises
    ``postroom.StoreUnavailable`` and changes nothing.
    """

    def enqueue(self, items: Sequence[NewMessage], connection: object = None) -> list[str]:
        """Store messages; return their ids (the earlier id for a repeated idempotency key).

        ``connection``: the app's own open database connection, to write the
        messages in its transaction, so they are queued if and only if it
        commits (only a store on that same database can do it).
        """

    def due_accounts(self, now: float) -> list[str]:
        """Accounts with messages due at ``now`` (queued and due, or with an expired lease)."""

    def next_due(self) -> float | None:
        """When the next queued message falls due, if any."""

    def claim(self, account: str, schedule: Schedule, *, limit: int, lease: float,
              worker: str, ids: Collection[str] = ()) -> Claim:
        """Take as many of ``account``'s due messages as its limits allow now, at most
        ``limit``, "send now" ones first, under a lease of ``lease`` seconds.

        In one write transaction, at the store's own clock: read the usage
        (``accounting.usage_query``), pass ``accounting.gate`` (pauses, an
        outage's probe), ask ``accounting.plan_claim``, take the messages and
        store the bucket (``bucket_after``) and, for a probe, the probe's token.
        A due message is queued with ``not_before`` passed, or in flight under
        a lease that ran out. ``ids`` limits the claim to those messages (an
        operator's ``send``). ``worker`` names the claimer for people.
        """

    def renew(self, token: str, lease: float) -> int:
        """Extend the lease of the claim ``token``'s messages still in flight to
        ``lease`` seconds from now (and its probe's); return how many it holds."""

    def record(self, token: str, dispositions: Sequence[Disposition],
               follow_ups: Sequence[NewMessage] = ()) -> None:
        """Record outcomes of the claim ``token``'s messages as they come, with their
        log entries and the messages they gave rise to (copies for deferred
        recipients), in one transaction; called as often as results come.

        Only messages still carrying the token change, but a ``sent`` is
        recorded whatever happened meanwhile: it did go.
        """

    def release(self, token: str, message_ids: Sequence[str]) -> None:
        """Give claimed messages back unsent and untried (a worker stopping, or
        losing its lease, before handing them over); ends the claim's probe."""

    def mark_unreachable(self, account: str, token: str, reason: str, pause: float,
                         pause_max: float) -> float | None:
        """The batch ``token`` could not reach the account: pause it as a whole,
        doubling from ``pause`` to ``pause_max`` (``accounting.after_unreachable``),
        with an ``unreachable`` pause saying ``reason``. Returns the pause's end,
        or None when this batch does not decide it."""

    def mark_reachable(self, account: str) -> None:
        """A batch got through to the account: end its outage and lift its
        ``unreachable`` pause, so every worker sends again."""

    def usage(self, account: str, schedule: Schedule) -> Usage:
        """The account's usage now, as ``claim`` counts it (for estimates)."""

    def reroute(self, account: str, route: str, to_account: str) -> int:
        """Move ``account``'s queued messages of ``route`` to ``to_account``; return how many."""

    def pending(self, account: str, skip_keys: Collection[str] = ()) -> list[Message]:
        """The account's queued messages (due, scheduled or waiting to retry), oldest
        first; those enqueued under ``skip_keys`` left out.

        Messages in flight are not counted: their provider may have charged for
        them already. Each message's payload is loaded, so the cost grows with
        the account's queue.
        """

    def cancel(self, now: float, ids: Collection[str] = (), account: str | None = None,
               note: Note = None) -> list[Handled]:
        """Cancel queued messages, so that no worker ever sends them, with a log entry
        each from ``note``, in one transaction.

        Takes the messages of ``ids`` (only those of ``account`` when it is given
        too), or with ``account`` alone all the account's queued messages. A
        message in flight under a lease still running at ``now`` is left alone:
        its worker may be sending it. One whose lease ran out counts as queued,
        as it does for ``claim`` (its worker may have died), and is cancelled,
        reported with ``state`` ``inflight``; should that worker be only slow and
        send it after all, ``record`` records it ``sent``, as it went. Returns
        every id named, each once, or for ``account`` alone the messages
        cancelled and those left in flight.
        """

    def requeue(self, now: float, ids: Collection[str] = (), account: str | None = None,
                note: Note = None) -> list[Handled]:
        """Put dead messages back in the queue, due at ``now``, their tries counted
        from zero, with a log entry each from ``note``, in one transaction.

        ``ids`` and ``account`` choose as for ``cancel``; for ``account`` alone
        the result holds the account's dead messages, all requeued.
        """

    def pause(self, account: str, until: float, reason: str) -> None:
        """Stop an account from sending until ``until`` (a pause of kind ``pause``)."""

    def pauses(self, now: float) -> dict[str, AccountPause]:
        """Accounts paused at ``now``."""

    def queue(self, now: float, since: float) -> list[QueueRow]:
        """Per-account counts of the outbox."""

    def dead(self, account: str | None = None) -> list[tuple[str, str, str | None]]:
        """Messages that failed for good: ``(id, account, last error)``."""

    def log(self, *, account: str | None = None, outcome: str | None = None,
            since: float | None = None, recipient: str | None = None,
            message_id: str | None = None, limit: int | None = None) -> list[LogEntry]:
        """Delivery-log entries, newest first, filtered."""

    def clear_log(self, before: float | None = None) -> int:
        """Delete log entries (all, or older than ``before``); return how many."""

    def append_log(self, entries: Sequence[LogEntry]) -> None:
        """Add log entries that are not tries (delivery reports)."""

    def find(self, message_id: str) -> StoredMessage | None:
        """The outbox's record of a message, if it has one."""

    def recurring_last(self, name: str) -> float | None:
        """When the recurring send ``name`` last fired (or was first seen)."""

    def set_recurring_last(self, name: str, at: float) -> None:
        """Remember when the recurring send ``name`` fired."""

    def wait_for_work(self, timeout: float, stop: threading.Event | None = None) -> None:
        """Wait up to ``timeout`` seconds, less when ``stop`` is set or, for a store
        that can tell, as soon as a message falls due (a new one, a retry now)."""

    def close(self) -> None:
        """Release the store's resources."""
