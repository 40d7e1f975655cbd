"""Does anything need a person? Workers, queues, pauses, dead messages and credit.

``gather`` reads what the store knows (workers' heartbeats, each account's
due messages, pauses, accounts switched off, recent dead messages, the last
balances read) and ``assess``, a pure function, turns it into a
``HealthReport``: the facts, and ``problems``, each a sentence saying what
needs a person. ``postroom health``, ``Engine.health()`` and a worker's
``--health-port`` all give this report; ``[health]`` sets the thresholds.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs
from attrs import define, field, frozen

from postroom.scheduling import earliest_send
from postroom.settings import Count, Seconds

if TYPE_CHECKING:
    from postroom.config import Config
    from postroom.store import AccountPause, AccountState, Store


@define
class HealthSettings:
    """``[health]``: how often workers say they are alive, and what needs a person.

    Seconds throughout. ``expect_workers`` 0 turns the "no worker running"
    check off (for ``worker --once`` run from cron); ``max_dead`` is how many
    messages may fail for good within ``dead_within`` before it counts.
    """

    heartbeat: Seconds = 10.0
    stale_after: Seconds = 60.0
    forget_after: Seconds = 86400.0
    expect_workers: Count = 1
    stalled_after: Seconds = 900.0
    long_pause: Seconds = 1800.0
    dead_within: Seconds = 86400.0
    max_dead: Count = 0
    credits_every: Seconds = 600.0


@frozen
class WorkerSeen:
    """A worker's heartbeat: who it is, where, since when, what it serves
    (``accounts`` empty: all) and what it did; ``seen`` is when it last
    said it was alive, by the store's clock."""

    id: str
    host: str
    pid: int
    started: float
    accounts: tuple[str, ...] = field(default=(), converter=tuple)
    sent: int = 0
    dead: int = 0
    seen: float = 0.0


@frozen
class AccountActivity:
    """What the outbox holds of one account for health: ``queued`` messages
    (due, later or in flight), ``due`` of them due now and the ``oldest_due``
    one's time, when a worker ``last_claim``-ed any, and ``dead_recent``
    messages that failed for good since the time asked about."""

    account: str
    queued: int
    due: int
    oldest_due: float | None
    last_claim: float | None
    dead_recent: int


@frozen
class CreditReading:
    """An account's balance as last read (by a worker, or ``postroom credits``)."""

    account: str
    balance: Decimal
    unit: str
    low_threshold: Decimal | None
    at: float

    @property
    def is_low(self) -> bool:
        return self.low_threshold is not None and self.balance < self.low_threshold


def named(by: str | None) -> str:
    """Who switched an account off or on, as the logs and reports say it."""
    return by or "someone unnamed"


def switched_off_by(by: str | None, reason: str | None) -> str:
    """"by Ann: provider migration": who switched an account off and why, as the
    logs and reports say it."""
    return f"by {named(by)}: {reason or 'no reason given'}"


@frozen
class AccountHealth:
    """One account in the report: due messages and how long the oldest has
    waited, a pause (until, why, kind), whether an operator switched it off
    (when, by whom, why) or the config has it off (``enabled = false``), dead
    messages lately, the last balance."""

    account: str
    queued: int
    due: int
    oldest_due_age: float | None
    last_claim_age: float | None
    dead_recent: int
    paused_until: float | None = None
    pause_reason: str | None = None
    pause_kind: str | None = None
    disabled_at: float | None = None
    disabled_by: str | None = None
    disabled_reason: str | None = None
    credits: CreditReading | None = None
    off_in_config: bool = False

    @property
    def switched_off_by(self) -> str:
        """"by Ann: provider migration", for an account switched off."""
        return switched_off_by(self.disabled_by, self.disabled_reason)

    @property
    def off(self) -> bool:
        """Whether no worker sends for it, on purpose: switched off, or off in the config."""
        return self.disabled_at is not None or self.off_in_config


@frozen
class HealthReport:
    """The answer to "does anything need me?": ``ok`` when ``problems`` is empty."""

    at: float
    live: list[WorkerSeen]
    stale: list[WorkerSeen]
    accounts: list[AccountHealth]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready values (amounts as text), ``ok`` first."""
        data = attrs.asdict(self, value_serializer=lambda _, __, value: (
            str(value) if isinstance(value, Decimal) else value))
        return {"ok": self.ok, **data}


def _age(now: float, then: float | None) -> float | None:
    return None if then is None else max(0.0, now - then)


def _minutes(seconds: float) -> str:
    """A duration as people say it: "45 s", "12 min", "24 h"."""
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _messages(count: int, *, be: bool = False) -> str:
    """"1 message", "3 messages"; with ``be``: "1 message is", "3 messages are"."""
    if count == 1:
        return "1 message is" if be else "1 message"
    return f"{count} messages are" if be else f"{count} messages"


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def assess(settings: HealthSettings, now: float, workers: Sequence[WorkerSeen],
           activity: Sequence[AccountActivity], pauses: Mapping[str, AccountPause],
           credits: Mapping[str, CreditReading], may_send: Collection[str],
           switched_off: Mapping[str, AccountState],
           off_in_config: Collection[str] = ()) -> HealthReport:
    """Judge the facts against ``settings``; ``may_send`` names the accounts whose
    limits and windows let a message go now, ``switched_off`` the state of those
    an operator switched off, ``off_in_config`` those with ``enabled = false``."""
    live = [w for w in workers if now - w.seen <= settings.stale_after]
    stale = [w for w in workers if now - w.seen > settings.stale_after]
    problems = [f"worker {w.id} on {w.host} (pid {w.pid}) was last seen {_minutes(now - w.seen)} "
                "ago and did not say it stopped: it was killed, crashed or its host is down; "
                "start it again (under systemd it restarts by itself)" for w in stale]
    found = {a.account: a for a in activity}
    names = sorted({*found, *pauses, *switched_off, *off_in_config, *credits})
    accounts = []
    for name in names:
        seen = found.get(name) or AccountActivity(name, 0, 0, None, None, 0)
        pause = pauses.get(name)
        off = switched_off.get(name)
        report = AccountHealth(name, seen.queued, seen.due, _age(now, seen.oldest_due),
                               _age(now, seen.last_claim), seen.dead_recent,
                               pause.until if pause else None, pause.reason if pause else None,
                               pause.kind if pause else None,
                               off.disabled_at if off else None,
                               off.disabled_by if off else None,
                               off.disabled_reason if off else None, credits.get(name),
                               name in off_in_config)
        accounts.append(report)
    # No worker sends what waits for an account that is off: it needs none.
    queued = sum(account.queued for account in accounts if not account.off)
    if queued and len(live) < settings.expect_workers:
        problems.append(f"{_messages(queued, be=True)} queued and {len(live)} worker"
                        f"{'s are' if len(live) != 1 else ' is'} running (expected at least "
                        f"{settings.expect_workers}): start `postroom worker`")
    for account in accounts:
        problems += _account_problems(settings, now, account, account.account in may_send)
    return HealthReport(now, live, stale, accounts, problems)


def _account_problems(settings: HealthSettings, now: float, account: AccountHealth,
                      may_send: bool) -> list[str]:
    name = account.account
    found = []
    if account.paused_until is not None and account.paused_until - now > settings.long_pause:
        found.append(f"account {name} is paused until {_time(account.paused_until)} "
                     f"({account.pause_reason}): see to the cause (credit, quota, the "
                     "provider's limits), or `postroom queue retry` after fixing it")
    waited = account.last_claim_age
    # An account switched off (or off in the config) is not a problem in itself: a
    # person did it on purpose, and the report says so. Its messages wait by design,
    # as they do outside a window, so they are not "stalled" either.
    if (account.due and may_send and account.paused_until is None and not account.off
            and (account.oldest_due_age or 0) > settings.stalled_after
            and (waited is None or waited > settings.stalled_after)):
        found.append(f"account {name}: {_messages(account.due, be=True)} due, the oldest for "
                     f"{_minutes(account.oldest_due_age or 0)}, the account may send now, and "
                     f"no worker has taken any for {_minutes(waited) if waited else 'ever'}: "
                     "is a worker running for it?")
    if account.dead_recent > settings.max_dead:
        found.append(f"account {name}: {_messages(account.dead_recent)} failed for good in the "
                     f"last {_minutes(settings.dead_within)}: `postroom queue` shows why; "
                     "retry them with `postroom queue retry` once the cause is fixed")
    if account.credits is not None and account.credits.is_low:
        reading = account.credits
        found.append(f"account {name}: the balance is {reading.balance} {reading.unit}, below "
                     f"{reading.low_threshold} (read {_time(reading.at)}): top it up")
    return found


def gather(config: Config, store: Store, now: float) -> HealthReport:
    """Read the facts from ``store`` and assess them against ``config.health``."""
    settings = config.health
    activity = store.activity(now, now - settings.dead_within)
    moment = datetime.fromtimestamp(now, UTC)
    may_send = set()
    for seen in activity:
        account = config.accounts.get(seen.account)
        # Compared as datetimes: a round trip through one may round ``now`` up.
        if account is not None and seen.due and earliest_send(
                account.schedule, store.usage(seen.account, account.schedule),
                moment) <= moment:
            may_send.add(seen.account)
    switched_off = {name: state for name, state in store.account_states().items()
                    if not state.enabled}
    off_in_config = {name for name, account in config.accounts.items() if not account.enabled}
    return assess(settings, now, store.workers(), activity, store.pauses(now),
                  store.credit_readings(), may_send, switched_off, off_in_config)
