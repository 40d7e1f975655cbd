"""The worker: takes due messages from the outbox and sends them, account by account.

Each pass, for every account with due messages, it asks the schedule how many
may go now, claims that many (at most a batch) under a lease, sends them as
one batch through ``postroom_send`` and records every result in one
transaction. Transient failures come back later with exponential backoff;
throttling and a stopped account pause the account instead of burning tries.
"""

from __future__ import annotations

import logging
import math
import random
import signal
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import attrs
from attrs import define

from postroom.messages import EmailMessage, SmsMessage, new_message_id
from postroom.results import Outcome, SendResult
from postroom.scheduling import (
    History,
    allowance,
    backoff,
    earliest_send,
    next_occurrence,
    per_minute_limit,
)
from postroom.store import Claimed, Disposition, LogEntry, NewMessage

if TYPE_CHECKING:
    from postroom.config import Account, DeliverySettings
    from postroom.engine import Engine

log = logging.getLogger("postroom.worker")


@define
class WorkerReport:
    """What a worker run did: messages sent, failed for good, put back for later."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    batches: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.retried


def fails_over(result: SendResult, delivery: DeliverySettings) -> bool:
    """Whether another account of the message's route should take it over now."""
    if result.outcome is Outcome.THROTTLED:
        return pause_for(result, delivery) > delivery.failover_after
    return result.outcome in (Outcome.TRANSIENT, Outcome.ACCOUNT_STOPPED)


def dispose(account: Account, claimed: Claimed, result: SendResult, now: float,
            delivery: DeliverySettings, jitter: float, keep_log: bool,
            standby: str | None = None) -> Disposition:
    """Decide what becomes of one message after a try, with its log entry.

    ``standby`` is the account of the same route that takes the message over
    when this one failed in a way another account may not (see ``fails_over``).
    """
    attempt = claimed.attempts + 1
    outcome = result.outcome
    text = result.text
    moved_to = None
    if standby and fails_over(result, delivery) and not (
            outcome is Outcome.TRANSIENT and attempt >= delivery.max_attempts):
        state, when, error, moved_to = "queued", now, text, standby
    elif outcome is Outcome.ACCEPTED:
        state, when, error = "sent", now, None
    elif outcome is Outcome.PERMANENT:
        state, when, error = "dead", now, text
    elif outcome is Outcome.TRANSIENT and attempt >= delivery.max_attempts:
        state, when = "dead", now
        error = text = f"gave up after {attempt} tries: {text}"
    elif outcome is Outcome.TRANSIENT:
        wait = backoff(attempt, delivery.backoff, delivery.backoff_max, jitter)
        state, when, error = "queued", now + wait, text
    else:  # throttled or account stopped: the account waits, the try is not counted
        state, when, error = "queued", now + pause_for(result, delivery), text
    entry = None
    if keep_log:
        message = claimed.message
        info = dict(result.info)
        info.update({f"refused {rcpt}": why for rcpt, why in result.refused.items()})
        if moved_to:
            info["failover"] = f"handed to {moved_to}"
        entry = LogEntry(message.id, now, account.name, account.provider,
                         ", ".join(message.recipients), message.summary, outcome.value,
                         attempt, result.provider_id, result.code, text,
                         None if result.cost is None else str(result.cost), result.currency,
                         info)
    counted = outcome in (Outcome.ACCEPTED, Outcome.PERMANENT, Outcome.TRANSIENT)
    return Disposition(message_id=claimed.message.id, state=state, not_before=when,
                       counted=counted, provider_id=result.provider_id, error=error, log=entry,
                       account=moved_to)


def deferred_copy(account: Account, claimed: Claimed, result: SendResult, now: float,
                  delivery: DeliverySettings) -> NewMessage | None:
    """A copy of an accepted email for the recipients the server deferred (4xx).

    The server took the message for the others, so only the deferred ones get
    it again, later, with the headers as they were: nobody is left out and
    nobody gets it twice.
    """
    message = claimed.message
    deferred = tuple(rcpt for rcpt, why in result.refused.items() if why[:1] == "4")
    if not (result.ok and deferred and isinstance(message, EmailMessage)):
        return None
    copy = attrs.evolve(message, envelope=deferred, id=new_message_id())
    return NewMessage(account.name, copy, now + backoff(1, delivery.backoff, delivery.backoff_max,
                                                        0), claimed.manual,
                      idempotency_key=f"{message.id}:deferred", route=claimed.route)


def pause_for(result: SendResult, delivery: DeliverySettings) -> float:
    """How long an account waits after being throttled or stopped."""
    if result.retry_after is not None:
        return result.retry_after
    if result.outcome is Outcome.THROTTLED:
        return delivery.throttle_pause
    return delivery.stopped_pause


def history(engine: Engine, account: Account, now: float) -> History:
    """The account's recent sends, as far as its schedule's rules need them.

    Only the newest sends a limit can count are read (the last one for a gap,
    up to the per-minute or per-hour figure), so a busy account's worker does
    not reload every send of the last hour on each pass.
    """
    store = engine.store
    schedule = account.schedule
    moment = datetime.fromtimestamp(now, UTC)
    rate = per_minute_limit(schedule, schedule.local(moment).date())
    needed = max(math.floor(rate) if rate is not None else 0, schedule.per_hour or 0,
                 1 if schedule.min_gap or schedule.stagger else 0)
    times = store.sent_times(account.name, now - 3600, needed) if needed else []
    if times and times[-1] > now:  # the clock stepped back: the newest are from "the future"
        times = store.sent_times(account.name, now - 3600)
    recent = [datetime.fromtimestamp(t, UTC) for t in times]
    today = 0
    if schedule.daily_cap is not None:
        midnight = schedule.local(moment).replace(hour=0, minute=0, second=0, microsecond=0)
        today = store.sent_count(account.name, midnight.timestamp())
    return History(recent, today)


class Worker:
    """Drains the outbox through the engine's accounts; see ``Engine.run_worker``."""

    def __init__(self, engine: Engine, *, accounts: Sequence[str] | None = None,
                 stop: threading.Event | None = None,
                 progress: Callable[[WorkerReport], None] | None = None,
                 worker_id: str | None = None) -> None:
        self.engine = engine
        self.accounts = set(accounts) if accounts else None
        self.stop = stop or threading.Event()
        self.progress = progress
        self.id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self.report = WorkerReport()
        self._random = random.Random()
        self._unusable: set[str] = set()  # accounts already logged as unable to send

    def run(self, once: bool = False, wait: float | None = None) -> WorkerReport:
        """Send until stopped; with ``once``, until nothing due can go within ``wait`` seconds."""
        delivery = self.engine.config.delivery
        wait = delivery.once_wait if wait is None else wait
        while not self.stop.is_set():
            handled, wake = self.run_pass()
            if handled:
                continue
            now = self.engine.clock()
            if once and (wake is None or wake - now > wait):
                break
            pause = delivery.poll if wake is None else min(max(wake - now, 0.05), delivery.poll)
            self.stop.wait(pause)
        return self.report

    def run_pass(self) -> tuple[int, float | None]:
        """One round over the accounts with due messages; returns (handled, next wake-up)."""
        engine = self.engine
        now = engine.clock()
        self._fire_recurring(now)
        pauses = engine.store.pauses(now)
        handled = 0
        wakes = []
        for name in engine.store.due_accounts(now):
            if self.stop.is_set():
                break
            if self.accounts is not None and name not in self.accounts:
                continue
            if name in pauses:
                wakes.append(pauses[name].until)
                continue
            account = engine.config.accounts.get(name)
            if account is None:
                self._cannot_send(name)
                continue
            count, wake = self._serve(account, now)
            handled += count
            if wake is not None:
                wakes.append(wake)
        if not handled:
            next_due = engine.store.next_due()
            if next_due is not None and next_due > now:
                wakes.append(next_due)
        return handled, min(wakes) if wakes else None

    def _serve(self, account: Account, now: float) -> tuple[int, float | None]:
        engine = self.engine
        delivery = engine.config.delivery
        seen = history(engine, account, now)
        moment = datetime.fromtimestamp(now, UTC)
        scheduled = allowance(account.schedule, seen, moment)
        manual = allowance(account.schedule, seen, moment, manual=True)
        limit = min(delivery.batch_size, scheduled or manual)
        claimed = engine.store.claim(account.name, now, limit, delivery.lease, self.id,
                                     manual_only=not scheduled)
        if not claimed:
            return 0, earliest_send(account.schedule, seen, moment).timestamp()
        self._send(account, claimed)
        return len(claimed), None

    def _send(self, account: Account, claimed: list[Claimed]) -> None:
        engine = self.engine
        delivery = engine.config.delivery
        messages = [c.message for c in claimed]
        try:
            results = engine.deliver(account.name, messages)
        except Exception as exc:  # a plugin bug must not lose the batch: retry it later
            log.exception("the %s plugin failed while sending", account.provider)
            text = f"the {account.provider} plugin failed: {type(exc).__name__}: {exc}"
            results = [SendResult.transient(m.id, None, text) for m in messages]
        now = engine.clock()
        # Only messages with a route can fail over; a batch without any reads no pauses.
        routes = {c.route for c in claimed if c.route}
        pauses = engine.store.pauses(now) if routes else {}
        standby = {route: engine.standby(route, instead_of=account.name, pauses=pauses)
                   for route in routes}
        has_standby = any(standby.values())
        follow_ups = [copy for c, r in zip(claimed, results, strict=True)
                      if (copy := deferred_copy(account, c, r, now, delivery)) is not None]
        decided = [dispose(account, c, r, now, delivery, self._random.random(),
                           engine.config.store.log, standby.get(c.route))
                   for c, r in zip(claimed, results, strict=True)]
        engine.store.finish(self.id, decided, follow_ups)
        self._pause_if_needed(account, results, now, has_standby)
        if has_standby and engine.store.pauses(now).get(account.name):
            # Hand the account's waiting messages to their standby accounts, too.
            for route, other in standby.items():
                if other and (moved := engine.store.reroute(account.name, route, other)):
                    log.warning("moved %d queued %s messages from %s to %s", moved, route,
                                account.name, other)
        for d in decided:
            if d.state == "sent":
                self.report.sent += 1
            elif d.state == "dead":
                self.report.failed += 1
                log.error("message %s to account %s failed for good: %s", d.message_id,
                          account.name, d.error)
            else:
                self.report.retried += 1
        self.report.batches += 1
        if self.progress:
            self.progress(self.report)

    def _pause_if_needed(self, account: Account, results: list[SendResult], now: float,
                         has_standby: bool) -> None:
        """Pause an account the provider throttled or stopped, or, when it has a
        standby, one whose whole batch failed: it is tried again after a cool-down."""
        delivery = self.engine.config.delivery
        until, reason = None, None
        for result in results:
            if result.outcome in (Outcome.THROTTLED, Outcome.ACCOUNT_STOPPED):
                until = now + pause_for(result, delivery)
                reason = f"{result.outcome.value}: {result.text}"
                break
        else:
            if has_standby and all(r.outcome is Outcome.TRANSIENT for r in results):
                until = now + delivery.cooldown
                reason = f"failing, others take over for now: {results[0].text}"
        if until is not None:
            self.engine.store.pause(account.name, until, reason)
            log.warning("account %s paused until %s: %s", account.name,
                        datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds"), reason)

    def _cannot_send(self, name: str) -> None:
        """Say once per run why an account's messages stay queued: the config
        lacks the account, or its settings could not be read."""
        if name in self._unusable:
            return
        self._unusable.add(name)
        broken = self.engine.config.broken.get(name)
        if broken is None:
            log.warning("messages are queued for account %r, which this config does not have; "
                        "they stay queued (a config that has it sends them, or `postroom queue "
                        "cancel -a %s` drops them)", name, name)
        else:
            log.warning("account %r cannot send until its settings are fixed (%s); its "
                        "messages stay queued", name, broken.error())

    def _fire_recurring(self, now: float) -> None:
        engine = self.engine
        for name, spec in engine.config.recurring.items():
            if spec.account in engine.config.broken:
                self._cannot_send(spec.account)
                continue
            last = engine.store.recurring_last(name)
            if last is None:  # first seen: start counting from now, send nothing retroactively
                engine.store.set_recurring_last(name, now)
                continue
            tz = spec.timezone or engine.config.timezone
            due = next_occurrence(frozenset(spec.days), spec.at, tz,
                                  datetime.fromtimestamp(last, UTC))
            if due.timestamp() > now:
                continue
            # Occurrences missed while no worker ran collapse into one: a stale
            # report sent three times over helps nobody.
            while (later := next_occurrence(frozenset(spec.days), spec.at, tz, due)).timestamp() \
                    <= now:
                due = later
            account = engine.account(spec.account)
            if account.channel == "sms":
                messages = [SmsMessage(to=to, text=spec.text or "", region=account.region)
                            for to in spec.to]
            else:
                messages = [EmailMessage(to=spec.to, subject=spec.subject, text=spec.text,
                                         html=spec.html)]
            key = f"recurring:{name}:{due.isoformat()}"
            engine.store.enqueue([NewMessage(spec.account, m, now, idempotency_key=f"{key}#{i}")
                                  for i, m in enumerate(messages)])
            engine.store.set_recurring_last(name, due.timestamp())


def stop_on_signals(stop: threading.Event) -> None:
    """Make SIGTERM and SIGINT finish the batch in hand, then stop."""

    def handler(signum, frame):
        log.info("signal %s: finishing the batch in hand, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
