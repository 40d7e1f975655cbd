"""Sending one claimed batch: results taken as they come, recorded, the account paused if need be.

Messages whose recipient opted out (a STOP reply) while they waited are
skipped first, with the reason in the log, unless a critical event sent them.
The plugin hands message *i* over when asked for result *i*. Before each
ask the worker checks that it may go on: not stopping, its lease not in
danger, its account not paused by an earlier answer of the batch. When it
may not, it closes the plugin's iterator and gives the messages not handed
over back to the queue, untried. A plugin that raises keeps the results it
gave; the message it was sending is retried (it may have gone), the rest
go back to the queue.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import TYPE_CHECKING

from attrs import define, field

from postroom.consent import opted_out_claims
from postroom.dispatch import ResultStream
from postroom.results import Outcome, SendResult
from postroom.store import Claim, Claimed, Disposition, LogEntry
from postroom.worker.events import AccountChange, Attempt, BatchDone, Watcher
from postroom.worker.lease import Heartbeat
from postroom.worker.outcomes import deferred_copy, dispose, fails_over, pause_for, standby
from postroom.worker.recording import Recorder, StoreHealth, persist

if TYPE_CHECKING:
    from postroom.config import Account
    from postroom.worker.host import WorkerHost

log = logging.getLogger("postroom.worker")


@define
class Tally:
    """What one batch did: messages ``sent`` and ``dead``, and the ids put back
    in the queue (to retry, or never handed over)."""

    sent: int = 0
    dead: int = 0
    skipped: int = 0
    put_back: list[str] = field(factory=list)


class BatchSender:
    """Sends one ``Claim`` through its account's plugin; see the module's doc."""

    def __init__(self, host: WorkerHost, account: Account, claim: Claim, *,
                 stop: threading.Event, heartbeat: Heartbeat, health: StoreHealth,
                 lock: threading.Lock, jitter: random.Random,
                 events: Watcher | None = None) -> None:
        self.host = host
        self.account = account
        self.claim = claim
        self.stop = stop
        self.heartbeat = heartbeat
        self.health = health
        self.jitter = jitter
        self.events = events or Watcher()
        self.recorder = Recorder(host.store, claim.token, health, lock)
        self.tally = Tally()
        self.sending: tuple[Claimed, ...] = claim.messages  # all but those skipped
        self.handed = 0  # results taken, in order
        self.released = 0
        self._outcomes: list[Outcome] = []
        self._first_text = ""
        self._paused = False
        self._reached = not claim.probe
        self._standby: dict[str, str | None] = {}
        self._charged = False  # a result reported a cost or the balance left

    def outstanding(self) -> int:
        """The claim's messages the store should still hold in flight."""
        return len(self.claim.messages) - self.recorder.written - self.released

    def run(self) -> Tally:
        started = time.monotonic()
        self.heartbeat.hold(self.claim.token, self.outstanding)
        try:
            self._skip_opted_out()
            if self.sending:
                stream = self.host.dispatch(self.account, [c.message for c in self.sending])
                try:
                    self._take(stream)
                finally:
                    stream.close()
            self.recorder.flush()
            self._release(self.sending[self.handed:])
            self._after()
        finally:
            self.heartbeat.drop()
        if self._charged or (self.tally.sent and self.account.config.credits_needed(
                [self.claim.messages[0].message]) is not None):  # a provider that sells credit
            self.host.credits_spent(self.account)
        messages = self.claim.messages
        self.events.batch_done(BatchDone(
            self.account.name, self.account.provider, len(messages), self.tally.sent,
            self.tally.dead, len(self.tally.put_back), time.monotonic() - started,
            dict.fromkeys(c.batch for c in messages if c.batch)))
        return self.tally

    def _skip_opted_out(self) -> None:
        """Record as skipped the messages to an address that opted out since they
        were queued; keep the rest in ``sending``."""
        account = self.account
        reasons = persist(lambda: opted_out_claims(self.host.store, account.channel,
                                                   self.claim.messages),
                          self.health, "reading opt-outs")
        if not reasons:
            return
        now = self.host.clock()
        keep_log = self.host.config.store.log
        for claimed in self.claim.messages:
            why = reasons.get(claimed.message.id)
            if why is None:
                continue
            message = claimed.message
            entry = LogEntry(message.id, now, account.name, account.provider,
                             ", ".join(message.recipients), message.summary, "skipped",
                             claimed.attempts, text=why) if keep_log else None
            self.recorder.add(Disposition(message.id, "cancelled", now, now, counted=False,
                                          error=why, log=entry))
            self.tally.skipped += 1
            log.info("message %s to account %s skipped: %s", message.id, account.name, why)
        self.sending = tuple(c for c in self.claim.messages if c.message.id not in reasons)

    def _take(self, stream: ResultStream) -> None:
        for claimed in self.sending:
            if stream.interruptible and stream.between_items and self._must_stop():
                return
            asked = time.monotonic()
            try:
                result = next(stream)
            except Exception as error:  # a plugin's bug must not lose the batch
                self._plugin_failed(stream, error)
                return
            self._accept(claimed, result, time.monotonic() - asked)

    def _must_stop(self) -> bool:
        if self._paused or self.stop.is_set():
            return True
        if self.heartbeat.in_danger:
            log.warning("account %s: the lease of the batch in hand may run out (the outbox "
                        "does not answer, or another worker took its messages): handing no "
                        "more of it to the plugin", self.account.name)
            return True
        return False

    def _plugin_failed(self, stream: ResultStream, error: Exception) -> None:
        """Log ``error`` for the plugin's author; the messages it may have sent are
        retried: the one in hand, or with a list-returning plugin every one left."""
        messages = self.sending
        log.error("%s raised while sending message %d of a batch of %d for account %s",
                  stream.plugin, self.handed + 1, len(messages), self.account.name,
                  exc_info=error)
        text = f"{stream.plugin} failed: {type(error).__name__}: {error}"
        unknown = messages[self.handed:] if not stream.interruptible else \
            messages[self.handed:self.handed + 1]
        for claimed in unknown:
            # It may have gone before the plugin fell over: whoever retries should know.
            self._accept(claimed, SendResult.transient(claimed.message.id, None, text,
                                                       info={"maybe_delivered": "true"}))

    def _accept(self, claimed: Claimed, result: SendResult, duration: float = 0.0) -> None:
        """Decide what becomes of ``claimed`` after ``result`` (which the plugin took
        ``duration`` seconds to give), and of its account."""
        now = self.host.clock()
        self.handed += 1
        self._outcomes.append(result.outcome)
        self._first_text = self._first_text or result.text
        self._charged = self._charged or result.cost is not None or \
            "remaining_balance" in result.info
        self._account_answered(result, now)
        config = self.host.config
        delivery = config.delivery
        other = None
        if claimed.route and fails_over(result, delivery):
            other = self._standby_for(claimed.route, now)
        decided = dispose(self.account, claimed, result, now, delivery, self.jitter.random(),
                          config.store.log, other)
        self.recorder.add(decided, deferred_copy(self.account, claimed, result, now, delivery))
        self.events.attempted(Attempt(
            self.account.name, self.account.provider, claimed.message.id, claimed.batch,
            result.outcome.value, decided.state, claimed.attempts + 1, result.provider_id,
            result.code, decided.error or result.text, duration))
        if decided.state == "sent":
            self.tally.sent += 1
        elif decided.state == "dead":
            self.tally.dead += 1
        else:
            self.tally.put_back.append(decided.message_id)

    def _account_answered(self, result: SendResult, now: float) -> None:
        """Pause the account at the first answer that is about it, not the message;
        a probe's first answer that got through ends the account's outage."""
        store, delivery, name = self.host.store, self.host.config.delivery, self.account.name
        if result.outcome is Outcome.UNREACHABLE:
            if not self._paused:
                self._paused = True
                until = persist(lambda: store.mark_unreachable(
                    name, self.claim.token, f"unreachable: {result.text}",
                    delivery.unreachable_pause, delivery.unreachable_pause_max),
                    self.health, "pausing an unreachable account")
                if until is not None:
                    self.events.account_changed(AccountChange(name, "unreachable",
                                                              result.text, until))
            return
        if not self._reached:
            self._reached = True
            persist(lambda: store.mark_reachable(name), self.health, "ending an outage")
            self.events.account_changed(AccountChange(name, "reachable"))
        if result.outcome.pauses_account and not self._paused:
            self._paused = True
            self._pause(now + pause_for(result, delivery), f"{result.outcome.value}: "
                                                            f"{result.text}")

    def _pause(self, until: float, reason: str) -> None:
        persist(lambda: self.host.store.pause(self.account.name, until, reason), self.health,
                "pausing an account")
        self.events.account_changed(AccountChange(self.account.name, "paused", reason, until))

    def _standby_for(self, route: str, now: float) -> str | None:
        if route not in self._standby:
            paused = self.host.store.pauses(now)
            self._standby[route] = standby(self.host.config.channels, route,
                                           {*paused, *self.host.config.broken},
                                           instead_of=self.account.name)
        return self._standby[route]

    def _release(self, unsent: tuple[Claimed, ...]) -> None:
        """Give back the messages never handed over, untried."""
        if not unsent:
            return
        ids = [c.message.id for c in unsent]
        persist(lambda: self.host.store.release(self.claim.token, ids), self.health,
                "giving messages back to the queue")
        self.released = len(ids)
        self.tally.put_back.extend(ids)

    def _after(self) -> None:
        """With a standby: cool down an account whose whole batch failed, and hand a
        paused account's waiting messages over."""
        routes = {c.route for c in self.claim.messages if c.route}
        if not routes:  # only messages with a route can fail over
            return
        now = self.host.clock()
        store = self.host.store
        for route in routes:
            self._standby_for(route, now)
        if not any(self._standby.values()):
            return
        if not self._paused and self._outcomes and all(o is Outcome.TRANSIENT
                                                       for o in self._outcomes):
            self._paused = True
            self._pause(now + self.host.config.delivery.cooldown,
                        f"failing, others take over for now: {self._first_text}")
        if self._paused:
            for route, other in self._standby.items():
                if other and (moved := store.reroute(self.account.name, route, other)):
                    log.warning("moved %d queued %s messages from %s to %s", moved, route,
                                self.account.name, other)

