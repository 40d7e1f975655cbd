"""What the engine asks of a store, and the records that pass in and out.

Times are seconds since the epoch (UTC) as floats: every backend stores them
the same way and the scheduling code turns them into datetimes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from attrs import field, frozen

from postroom.health import AccountActivity, CreditReading, WorkerSeen
from postroom.messages import Message
from postroom.results import Credits
from postroom.scheduling import Schedule, Usage
from postroom.store.accounting import AccountState
from postroom.store.identity import AccountIdentity


@frozen
class NewMessage:
    """A message to enqueue: for ``account``, not before ``not_before``.

    ``manual`` marks an operator's "send now" (skips stagger and windows).
    ``idempotency_key``: enqueuing the same key again is a no-op. ``route``
    names the channel group (``sms``) whose other accounts may take over.
    ``critical`` marks a critical event's message: it goes even to an address
    that opted out. ``batch`` is the id of the bulk send it belongs to.
    """

    account: str
    message: Message
    not_before: float
    manual: bool = False
    idempotency_key: str | None = None
    route: str | None = None
    critical: bool = False
    batch: str | None = None


@frozen
class Claimed:
    """A message a worker holds under lease, with how many tries it has had and
    when it fell due (``due``: kept when the account, not the message, failed),
    and the bulk send (``batch``) it belongs to."""

    account: str
    message: Message
    attempts: int
    manual: bool
    route: str | None = None
    due: float = 0.0
    critical: bool = False
    batch: str | None = None


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
    report: str | None = None


@frozen
class InboxEntry:
    """Something that came in for an account: a reply, a bounce, an opt-out or opt-in
    keyword, or other mail read from the account's mailbox.

    ``kind`` is ``reply``, ``bounce`` (a report that ``message_id`` could not be
    delivered), ``opt_out``, ``opt_in`` or ``other``; ``channel`` ``sms`` or
    ``email``. ``sender`` wrote to ``recipient`` (the account's number or
    address) at ``received`` (epoch seconds). ``message_id`` is postroom's
    message it answers, when one was found; ``provider_id`` the provider's id
    for it (one provider id is recorded once per account).
    """

    id: str
    received: float
    channel: str
    account: str
    kind: str
    sender: str
    recipient: str
    text: str
    subject: str | None = None
    message_id: str | None = None
    provider_id: str | None = None
    info: dict[str, str] = field(factory=dict)


@frozen
class OptOut:
    """Whether ``address`` opted out within ``scope`` (a channel such as ``sms``),
    as of ``at``, by ``keyword`` sent to ``account``."""

    scope: str
    address: str
    opted_out: bool
    at: float
    account: str | None = None
    keyword: str | None = None


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


@frozen
class BatchRow:
    """One account's part of a bulk send (``batch``): its messages by state
    (``waiting`` due now, ``scheduled`` later), when the first was queued
    (``created``), the due times of the first and last still to go, and
    ``ahead``: the account's messages still to go, of any batch, due no later
    than the batch's last: what goes before the batch is done."""

    batch: str
    account: str
    sent: int
    dead: int
    waiting: int
    scheduled: int
    in_flight: int
    cancelled: int
    created: float
    first_due: float | None = None
    last_due: float | None = None
    ahead: int = 0

    @property
    def left(self) -> int:
        """Messages still to go: waiting, scheduled or in flight."""
        return self.waiting + self.scheduled + self.in_flight


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
               note: Note = None, batch: str | None = None) -> list[Handled]:
        """Cancel queued messages, so that no worker ever sends them, with a log entry
        each from ``note``, in one transaction.

        Takes the messages of ``ids`` (only those of ``account`` when it is given
        too), or with ``account`` alone all the account's queued messages, or
        with ``batch`` all the queued messages of that bulk send (of
        ``account`` only, when it is given too). A
        message in flight under a lease still running at ``now`` is left alone:
        its worker may be sending it. One whose lease ran out counts as queued,
        as it does for ``claim`` (its worker may have died), and is cancelled,
        reported with ``state`` ``inflight``; should that worker be only slow and
        send it after all, ``record`` records it ``sent``, as it went. Returns
        every id named, each once, or for ``account`` alone the messages
        cancelled and those left in flight (for ``batch``: the batch's).
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
            message_id: str | None = None, limit: int | None = None,
            batch: str | None = None) -> list[LogEntry]:
        """Delivery-log entries, newest first, filtered (``batch``: about the
        messages of that bulk send)."""

    def clear_log(self, before: float | None = None) -> int:
        """Delete log entries (all, or older than ``before``); return how many."""

    def prune(self, before: float) -> int:
        """Delete the messages sent, failed for good (dead) or cancelled before
        ``before``; return how many. Their log entries stay. It deletes a few
        thousand a transaction, so workers go on meanwhile, and passes over a
        message another transaction is changing. It keeps no minimum history
        itself: ``Engine.prune`` refuses a ``before`` less than a week back, the time
        late reports, bounces and the limits still look back on."""

    def append_log(self, entries: Sequence[LogEntry]) -> None:
        """Add log entries that are not tries (delivery reports)."""

    def find(self, message_id: str) -> StoredMessage | None:
        """The outbox's record of a message, if it has one."""

    def find_sent(self, account: str, provider_id: str) -> StoredMessage | None:
        """The account's message the provider gave ``provider_id``, if any."""

    def last_sent_to(self, account: str, recipient: str) -> str | None:
        """The id of the account's message last sent to ``recipient``, if any."""

    def record_report(self, message_id: str, state: str, entry: LogEntry | None) -> None:
        """Set a message's delivery ``state`` (``delivered``, ``failed``, ``pending``)
        and log ``entry``, in one transaction. A final state is not turned back
        to ``pending`` by a late report, and ``failed`` (of any part) wins over
        ``delivered``."""

    def add_inbox(self, entries: Sequence[InboxEntry], log: Sequence[LogEntry] = (),
                  seen: Sequence[tuple[str, str]] = ()) -> list[bool]:
        """Record what came in, the log entries it gives rise to (bounces) and the
        ``(account, key)`` of the mailbox messages it was read from, in one
        transaction. Returns, per entry, False when nothing was written for it:
        the account already has an entry with its ``provider_id`` (the provider
        called twice) or its id."""

    def inbox(self, *, account: str | None = None, kind: str | None = None,
              channel: str | None = None, since: float | None = None,
              sender: str | None = None, message_id: str | None = None,
              limit: int | None = None) -> list[InboxEntry]:
        """Inbox entries, newest first, filtered (``sender``: part of the address)."""

    def set_opt_out(self, change: OptOut) -> bool:
        """Record an opt-out or opt-in; False when a later change is already recorded
        for the same scope and address (a late or replayed call changes nothing)."""

    def opted_out(self, scope: str, address: str) -> OptOut | None:
        """The opt-out in force for ``address`` within ``scope``, or None."""

    def opted_out_among(self, scope: str, addresses: Sequence[str]) -> dict[str, OptOut]:
        """The opt-outs in force within ``scope`` for any of ``addresses``, by address:
        one question for a whole batch."""

    def opt_outs(self, scope: str | None = None) -> list[OptOut]:
        """Every address opted out (within ``scope``), newest first."""

    def owners(self) -> dict[str, AccountIdentity]:
        """What the outbox records of each account that queued or sent through it
        (see ``postroom.store.identity``)."""

    def adopt(self, accounts: Collection[str]) -> list[str]:
        """Record the configuration's ``accounts`` as the outbox's; the names recorded."""

    def recurring_last(self, name: str) -> float | None:
        """When the recurring send ``name`` last fired (or was first seen)."""

    def set_recurring_last(self, name: str, at: float) -> None:
        """Remember when the recurring send ``name`` fired."""

    def seen_mail(self, account: str) -> set[str]:
        """The keys of the account's mailbox messages already read."""

    def forget_mail(self, account: str, keep: Collection[str]) -> int:
        """Forget the read keys of ``account`` not in ``keep`` (gone from the mailbox)."""

    def account_states(self) -> dict[str, AccountState]:
        """The shared state of every account the store keeps some for (the others'
        is ``AccountState()``): switched off, counter reset, low credit..."""

    def switch(self, account: str, enabled: bool, reason: str = "", by: str = "") -> bool:
        """Switch ``account`` on or off for every worker, at the store's clock. While
        it is off ``claim`` takes none of its messages (they stay queued), and
        ``reason`` and ``by`` (who) say why. Returns whether it changed."""

    def reset_counter(self, account: str) -> float:
        """Count ``account``'s sent-today from now on (the store's clock, returned):
        its daily cap is counted from here until its next day begins."""

    def sent_since(self, account: str, since: float) -> int:
        """How many of ``account``'s messages were sent at or after ``since``."""

    def flush(self, account: str) -> int:
        """Make ``account``'s waiting messages go now, as "send now" messages do:
        queued ones that are due (held by the mode, a window, a check or the
        stagger) or waiting to be tried again; not those an app scheduled for
        later. Returns how many."""

    def note_credit(self, account: str, low: bool) -> bool:
        """Record a balance read of ``account``: ``low`` when below its threshold.
        True only for the first low read since the balance was last above it
        (a crossing), so that every worker and host tells it once."""

    def take_mailbox_read(self, account: str, due: float) -> bool:
        """Take the read of ``account``'s mailbox that fell due at ``due``: True for
        the one caller that finds it not yet taken (noted as read now)."""
    def batches(self, now: float, batch: str | None = None,
                since: float | None = None) -> list[BatchRow]:
        """Bulk sends by account: those of ``batch``; without it, every batch with
        messages still to go, and those queued at or after ``since``."""

    def beat(self, worker: WorkerSeen) -> None:
        """Record that ``worker`` is alive now, by the store's clock (its ``seen``
        is ignored), with what it serves and has done."""

    def workers(self) -> list[WorkerSeen]:
        """Every worker's last heartbeat, those stopped without saying so included."""

    def forget_workers(self, ids: Collection[str]) -> None:
        """Drop these workers' heartbeats: they stopped, or died long ago."""

    def activity(self, now: float, dead_since: float) -> list[AccountActivity]:
        """Per account: messages queued, due at ``now`` and the oldest due one's
        time, the last claim's time, and messages dead since ``dead_since``."""

    def note_credits(self, account: str, credits: Credits, at: float) -> None:
        """Keep the account's balance as read at ``at`` (the latest wins)."""

    def credit_readings(self) -> dict[str, CreditReading]:
        """The last balance read of each account that has one."""

    def wait_for_work(self, timeout: float, stop: threading.Event | None = None) -> None:
        """Wait up to ``timeout`` seconds, less when ``stop`` is set or, for a store
        that can tell, as soon as a message falls due (a new one, a retry now)."""

    def close(self) -> None:
        """Release the store's resources."""
