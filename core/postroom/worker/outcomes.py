"""What becomes of a message after a try, and of its account: pure decisions.

``dispose`` turns one ``SendResult`` into the ``Disposition`` the store
records (sent, dead, or queued again, and when) with its log entry;
``deferred_copy`` makes the copy of an email for recipients the server put
off; ``standby`` picks the account of a route that takes a message over.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from postroom.messages import EmailMessage, new_message_id
from postroom.results import Outcome, SendResult
from postroom.scheduling import backoff
from postroom.store import Claimed, Disposition, LogEntry, NewMessage

if TYPE_CHECKING:
    from postroom.config import Account, DeliverySettings

#: The log's outcome for a message that gave up after its last try.
DEAD = "dead"


def pause_for(result: SendResult, delivery: DeliverySettings) -> float:
    """How long an account waits after being throttled or stopped."""
    if result.retry_after is not None:
        return result.retry_after
    if result.outcome is Outcome.THROTTLED:
        return delivery.throttle_pause
    return delivery.stopped_pause


def fails_over(result: SendResult, delivery: DeliverySettings) -> bool:
    """Whether another account of the message's route should take it over now."""
    if result.outcome is Outcome.THROTTLED:
        return pause_for(result, delivery) > delivery.failover_after
    return result.outcome in (Outcome.TRANSIENT, Outcome.ACCOUNT_STOPPED, Outcome.UNREACHABLE)


def standby(channels: Mapping[str, Sequence[str]], route: str, paused: Collection[str],
            instead_of: str | None = None) -> str | None:
    """The first account of ``route``'s group that is not paused (and is not
    ``instead_of``, the account that just failed): where a message goes."""
    for name in channels.get(route, []):
        if name != instead_of and name not in paused:
            return name
    return None


def dispose(account: Account, claimed: Claimed, result: SendResult, now: float,
            delivery: DeliverySettings, jitter: float, keep_log: bool,
            standby: str | None = None) -> Disposition:
    """Decide what becomes of one message after a try, with its log entry.

    ``now`` is when the result came. ``standby`` is the account of the same
    route that takes the message over when this one failed in a way another
    account may not (see ``fails_over``). A message whose account, not itself,
    failed (throttled, stopped, unreachable) keeps its tries and its due time:
    the account's pause holds it back.
    """
    attempt = claimed.attempts + 1
    outcome = result.outcome
    logged = outcome.value
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
        state, when, logged = "dead", now, DEAD
        error = text = f"gave up after {attempt} tries: {text}"
    elif outcome is Outcome.TRANSIENT:
        wait = backoff(attempt, delivery.backoff, delivery.backoff_max, jitter)
        state, when, error = "queued", now + wait, text
    else:
        state, when, error = "queued", claimed.due, text
    entry = None
    if keep_log:
        message = claimed.message
        info = dict(result.info)
        info.update({f"refused {rcpt}": why for rcpt, why in result.refused.items()})
        if moved_to:
            info["failover"] = f"handed to {moved_to}"
        entry = LogEntry(message.id, now, account.name, account.provider,
                         ", ".join(message.recipients), message.summary, logged,
                         attempt, result.provider_id, result.code, text,
                         None if result.cost is None else str(result.cost), result.currency,
                         info)
    counted = outcome in (Outcome.ACCEPTED, Outcome.PERMANENT, Outcome.TRANSIENT)
    return Disposition(message_id=claimed.message.id, state=state, at=now, not_before=when,
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
