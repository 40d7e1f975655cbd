"""The worker: takes due messages from the outbox and sends them, account by account.

Each pass, for every account with due messages, it claims as many as the
account's limits allow now (the store decides, in the claim's transaction,
for all workers together), at most a batch, and sends them through the
account's plugin (``BatchSender``): results are recorded as they come, the
lease is renewed while the batch is in hand, and an account that answers
for itself (throttled, out of credit, unreachable) pauses as a whole.

With ``[delivery] concurrency`` above 1, a worker sends that many batches at
once, each in a thread of its own (a lane) with its own connection to the
provider: what a server answering one session at a time, such as Postfix's
smtpd, needs to be kept busy. Lanes claim as separate workers would, so the
store's limits hold across them; the first lane alone also does the chores
(recurring sends, balances, the accounts' pause changes).
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime

from attrs import define, field

from postroom.errors import StoreUnavailable
from postroom.messages import EmailMessage, SmsMessage
from postroom.scheduling import next_occurrence
from postroom.store import NewMessage
from postroom.worker.batch import BatchSender
from postroom.worker.events import AccountChange, BatchProgressLog, LogEvents, Watcher, Watchers
from postroom.worker.host import WorkerHost
from postroom.worker.lease import Heartbeat
from postroom.worker.mailbox_rounds import MailboxRounds
from postroom.worker.presence import Presence
from postroom.worker.recording import RETRY_MAX, StoreHealth

log = logging.getLogger("postroom.worker")

# The shortest sleep between passes: per-second limits space claims by milliseconds.
MIN_SLEEP = 0.001
# How soon the lanes of a worker see its stop (SIGTERM) while they wait for work.
STOP_CHECK = 0.2


@define
class WorkerReport:
    """What a worker run did, in messages (not tries).

    ``sent`` and ``dead`` (failed for good) count messages this run finished,
    ``skipped`` those it did not send because their recipient opted out;
    ``left`` the messages still queued when it ended that were due (waiting
    for a limit, a window or a paused account) or waiting to be tried again;
    ``batches`` the batches sent.
    """

    sent: int = 0
    dead: int = 0
    left: int = 0
    batches: int = 0
    skipped: int = 0

    @property
    def finished(self) -> int:
        return self.sent + self.dead + self.skipped


@define
class Lane:
    """What one of a worker's sending threads keeps to itself: the heartbeat of the
    claim in hand (a lane holds one at a time), the lock that keeps its writes
    of results and its lease renewals apart, and ``nudge``, set when another
    lane ends a batch or the worker stops, which ends this lane's wait for work.
    Lane 0 does the worker's chores."""

    number: int
    lock: threading.Lock = field(factory=threading.Lock)
    heartbeat: Heartbeat | None = None
    nudge: threading.Event = field(factory=threading.Event)


class Worker:
    """Drains the outbox of a ``WorkerHost``; see ``Engine.run_worker``.

    ``accounts`` limits it to those accounts, ``messages`` to those message
    ids (an operator's "send now": its own messages, not the backlog).
    Every try, batch and change of an account is logged and handed to
    ``watchers`` (metrics, say). With ``presence`` the worker keeps a
    heartbeat in the store (``postroom health``) and, running until stopped,
    reads the balances of its accounts every ``[health] credits_every``.
    ``concurrency`` is how many batches it sends at once (default
    ``[delivery] concurrency``).
    """

    def __init__(self, host: WorkerHost, *, accounts: Sequence[str] | None = None,
                 messages: Collection[str] = (), stop: threading.Event | None = None,
                 progress: Callable[[WorkerReport], None] | None = None,
                 worker_id: str | None = None, watchers: Sequence[Watcher] = (),
                 presence: bool = False, concurrency: int | None = None) -> None:
        self.host = host
        self.concurrency = concurrency or host.config.delivery.concurrency
        self.accounts = set(accounts) if accounts else None
        self.messages = tuple(messages)
        self.stop = stop or threading.Event()
        self.progress = progress
        self.id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self.report = WorkerReport()
        self.health = StoreHealth(self.stop)
        self._random = random.Random()
        self._lanes = [Lane(0)]
        self._tally_lock = threading.Lock()  # lanes add to one report
        self._progressed = host.clock()
        self.mailboxes = MailboxRounds(host, self._serves, self.stop)
        self.events = Watchers([LogEvents(), BatchProgressLog(host.config, host.store,
                                                              host.clock), *watchers])
        self.presence = Presence(host.store, host.config.health, self.id, self.accounts or (),
                                 host.clock, lambda: (self.report.sent, self.report.dead)
                                 ) if presence else None
        self._paused: set[str] = set()  # accounts found paused on the last pass
        self._unusable: set[str] = set()  # accounts already logged as unable to send
        self._credits_read = float("-inf")

    def run(self, once: bool = False, wait: float | None = None) -> WorkerReport:
        """Send until stopped. With ``once``, stop when nothing may go within ``wait``
        seconds (default ``[delivery] once_wait``) of the last message finished
        (sent or failed for good), or of the start: also when a provider keeps
        throttling or an account stays unreachable that long.

        The mailboxes of the accounts served are read on their schedules
        meanwhile (with ``once``, those due are read once, first), except in
        a run for given ``messages``.
        """
        delivery = self.host.config.delivery
        wait = delivery.once_wait if wait is None else wait
        self._progressed = self.host.clock()
        self._lanes += [Lane(n) for n in range(len(self._lanes), self.concurrency)]
        if not self.messages:
            if once:
                self.mailboxes.run_due()
            else:
                self.mailboxes.start()
        if self.presence is not None:
            self.presence.start()
        try:
            if len(self._lanes) == 1:
                self._drive(self._lanes[0], once, wait)
            else:
                self._drive_lanes(once, wait)
        finally:
            self.mailboxes.close()
            for lane in self._lanes:
                if lane.heartbeat is not None:
                    lane.heartbeat.close()
            if self.presence is not None:
                self.presence.stop()
        self.report.left = self._left()
        return self.report

    def _drive_lanes(self, once: bool, wait: float) -> None:
        """Run every lane in a thread of its own until all end; the first failure of
        one stops the others and is raised here, as a lone lane's would be."""
        failures: list[BaseException] = []

        def drive(lane: Lane) -> None:
            try:
                self._drive(lane, once, wait)
            except BaseException as error:
                failures.append(error)
                self.stop.set()

        threads = [threading.Thread(target=drive, args=(lane,), daemon=True,
                                    name=f"postroom-lane-{lane.number}") for lane in self._lanes]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                # Lanes wait for work on their nudge, not on the stop, which is the
                # caller's: seen here, it is passed on.
                while thread.is_alive():
                    thread.join(STOP_CHECK)
                    if self.stop.is_set():
                        self._nudge_lanes()
        except BaseException:  # Ctrl-C in the caller's thread: the lanes finish their message
            self.stop.set()
            self._nudge_lanes()
            for thread in threads:
                thread.join()
            raise
        if failures:
            raise failures[0]

    def _drive(self, lane: Lane, once: bool, wait: float) -> None:
        """One lane's passes until stopped, or with ``once`` until nothing is left to do."""
        delivery = self.host.config.delivery
        clock = self.host.clock
        chores = lane.number == 0
        retry = 0.0
        # Alone, a lane waits on the stop itself; among others, on its nudge, so that
        # the end of another lane's batch (its messages back, or the last of a run
        # with ``once``) starts its next pass at once instead of after ``poll``.
        wake_on = self.stop if len(self._lanes) == 1 else lane.nudge
        while not self.stop.is_set():
            lane.nudge.clear()  # a batch ended from here on cuts the coming wait short
            progressed = self._progressed
            if chores and not once and self.presence is not None:
                self._read_credits()
            try:
                handled, wake = self.run_pass(lane)
                retry = 0.0
            except StoreUnavailable as error:
                self.health.failed(error, "looking for due messages")
                if self.health.given_up():  # stopping, with results it could not write
                    raise
                retry = min(max(retry * 2, 0.1), RETRY_MAX)
                handled, wake = 0, clock() + retry
            if once and self._progressed == progressed:  # nothing finished this pass
                deadline = self._progressed + wait
                if clock() > deadline or (not handled and (wake is None or wake > deadline)):
                    break
            now = clock()
            if handled:
                continue
            pause = delivery.poll if wake is None else min(max(wake - now, MIN_SLEEP),
                                                           delivery.poll)
            if retry:  # the store just failed: nothing to wait on but the time
                self.stop.wait(pause)
            else:  # a store that can tell (PostgreSQL) ends the wait when work falls due
                self.host.store.wait_for_work(pause, wake_on)

    def run_pass(self, lane: Lane | None = None) -> tuple[int, float | None]:
        """One round over the accounts with due messages, in ``lane`` (the first
        by default); returns (messages claimed, when to look again)."""
        lane = lane or self._lanes[0]
        host = self.host
        store = host.store
        now = host.clock()
        if not self.messages and lane.number == 0:
            self._fire_recurring(now)
        pauses = store.pauses(now)
        if lane.number == 0:
            self._note_resumed(pauses)
        handled = 0
        wakes = []
        for name in store.due_accounts(now):
            if self.stop.is_set():
                break
            if not self._serves(name):
                continue
            if name in pauses:
                wakes.append(pauses[name].until)
                continue
            account = host.config.accounts.get(name)
            if account is None:
                self._cannot_send(name)
                continue
            if not account.enabled:  # enabled = false in the config: its messages wait
                continue
            claim = store.claim(name, account.schedule, limit=host.config.delivery.batch_size,
                                lease=host.config.delivery.lease, worker=self.id,
                                ids=self.messages)
            if not claim.messages:
                if claim.wake is not None:
                    wakes.append(claim.wake)
                continue
            handled += len(claim.messages)
            self._send(lane, account, claim)
        if not handled:
            next_due = store.next_due()
            if next_due is not None and next_due > now:
                wakes.append(next_due)
        return handled, min(wakes) if wakes else None

    def _serves(self, account: str) -> bool:
        return self.accounts is None or account in self.accounts

    def _send(self, lane: Lane, account, claim) -> None:
        if lane.heartbeat is None:
            lane.heartbeat = Heartbeat(self.host.store, self.host.config.delivery.lease,
                                       self.health, lane.lock)
        tally = BatchSender(self.host, account, claim, stop=self.stop,
                            heartbeat=lane.heartbeat, health=self.health, lock=lane.lock,
                            jitter=self._random, events=self.events).run()
        with self._tally_lock:
            self.report.sent += tally.sent
            self.report.dead += tally.dead
            self.report.skipped += tally.skipped
            self.report.batches += 1
            if tally.sent or tally.dead or tally.skipped:
                self._progressed = self.host.clock()
            if self.progress:
                self.progress(self.report)
        self._nudge_lanes(but=lane)

    def _nudge_lanes(self, but: Lane | None = None) -> None:
        """End the waits for work of every lane (``but`` one): something changed."""
        for lane in self._lanes:
            if lane is not but:
                lane.nudge.set()

    def _note_resumed(self, pauses: Collection[str]) -> None:
        """Tell of the accounts served whose pause ended since the last pass."""
        paused = {name for name in pauses if self._serves(name)}
        for name in sorted(self._paused - paused):
            self.events.account_changed(AccountChange(name, "resumed"))
        self._paused = paused

    def _read_credits(self) -> None:
        """Read the balance of each account served, every ``[health] credits_every``
        seconds; the store keeps it for ``postroom health`` and the metrics."""
        now = self.host.clock()
        if now - self._credits_read < self.host.config.health.credits_every:
            return
        self._credits_read = now
        for name in self.host.config.accounts:
            if self.stop.is_set():
                return
            if not self._serves(name):
                continue
            try:
                self.host.credits(name)
            except Exception as error:  # a balance that cannot be read must not stop sending
                log.warning("could not read the balance of account %s: %s", name, error)

    def _left(self) -> int:
        """Messages still queued that were due or wait for another try."""
        store = self.host.store
        if self.messages:
            found = (store.find(mid) for mid in self.messages)
            return sum(1 for stored in found
                       if stored is not None and stored.state in ("queued", "inflight"))
        now = self.host.clock()
        return sum(row.waiting + row.retrying for row in store.queue(now, now)
                   if self._serves(row.account))

    def _cannot_send(self, name: str) -> None:
        """Say once per run why an account's messages stay queued: the config
        lacks the account, or its settings could not be read."""
        if name in self._unusable:
            return
        self._unusable.add(name)
        broken = self.host.config.broken.get(name)
        if broken is None:
            log.warning("messages are queued for account %r, which this config does not have; "
                        "they stay queued (a config that has it sends them, or `postroom queue "
                        "cancel -a %s` drops them)", name, name)
        else:
            log.warning("account %r cannot send until its settings are fixed (%s); its "
                        "messages stay queued", name, broken.error())

    def _fire_recurring(self, now: float) -> None:
        host = self.host
        store = host.store
        for name, spec in host.config.recurring.items():
            if spec.account in host.config.broken:
                self._cannot_send(spec.account)
                continue
            last = store.recurring_last(name)
            if last is None:  # first seen: start counting from now, send nothing retroactively
                store.set_recurring_last(name, now)
                continue
            tz = spec.timezone or host.config.timezone
            due = next_occurrence(frozenset(spec.days), spec.at, tz,
                                  datetime.fromtimestamp(last, UTC))
            if due.timestamp() > now:
                continue
            # Occurrences missed while no worker ran collapse into one: a stale
            # report sent three times over helps nobody.
            while (later := next_occurrence(frozenset(spec.days), spec.at, tz, due)).timestamp() \
                    <= now:
                due = later
            account = host.config.accounts[spec.account]
            if account.channel == "sms":
                messages = [SmsMessage(to=to, text=spec.text or "", region=account.region)
                            for to in spec.to]
            else:
                messages = [EmailMessage(to=spec.to, subject=spec.subject, text=spec.text,
                                         html=spec.html)]
            key = f"recurring:{name}:{due.isoformat()}"
            store.enqueue([NewMessage(spec.account, m, now, idempotency_key=f"{key}#{i}")
                           for i, m in enumerate(messages)])
            store.set_recurring_last(name, due.timestamp())


def stop_on_signals(stop: threading.Event) -> None:
    """Make SIGTERM and SIGINT stop after the message in hand: the rest of its
    batch goes back to the queue (a plugin of the list contract finishes its batch)."""

    def handler(signum, frame):
        log.info("signal %s: finishing the message in hand, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
