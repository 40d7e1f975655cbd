"""Taking in a webhook call: the account's plugin reads it, the store records it.

``receive`` is what ``Engine.receive`` and the webhook app run for each call
to ``/ACCOUNT/...``: the account's plugin checks and reads the call through
``postroom_receive``, and each event is recorded where people look for it:

- a delivery report sets the message's delivery state in the outbox and
  adds a line to the delivery log (``postroom log``);
- a reply goes to the inbox (``postroom inbox``), linked to the message it
  answers; one that is an opt-out or opt-in keyword also records the number
  as opted out (or back in) in the store, where every worker and host sees it;
- then every callback the app registered with ``Engine.on_inbound`` is called.

A refused call records nothing and is logged with the caller's address; a
failure to record answers 500, so that the provider calls again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from attrs import frozen

from postroom.errors import ConfigError, PluginError
from postroom.inbound import DeliveryReport, InboundEvent, InboundMessage, OptChange, keyword
from postroom.messages import new_message_id
from postroom.store import InboxEntry, LogEntry, OptOut

if TYPE_CHECKING:
    from postroom.config import Account
    from postroom.engine import Engine
    from postroom.webhooks.request import WebhookRequest

log = logging.getLogger("postroom.webhooks")


@frozen
class Arrival:
    """One event of a webhook call, as the engine took it.

    ``kind`` is ``report``, ``reply``, ``opt_out`` or ``opt_in``;
    ``message_id`` postroom's message it is about, when one was found.
    ``recorded`` is False for what was not written: a report on a message
    this outbox does not know, or a reply the provider delivered twice.
    """

    account: str
    kind: str
    event: InboundEvent
    message_id: str | None = None
    recorded: bool = True


@frozen
class Answer:
    """What the webhook app answers a call: ``status``, ``body`` and its type,
    the ``arrivals`` taken, and for a refusal or failure, ``reason``."""

    status: int
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"
    arrivals: tuple[Arrival, ...] = ()
    reason: str = ""


InboundCallback = Callable[[Arrival], object]


def _failed(status: int, reason: str) -> Answer:
    return Answer(status, reason + "\n", reason=reason)


def _epoch(at: datetime | None, now: float) -> float:
    return at.timestamp() if at is not None else now


def receive(engine: Engine, account_name: str, request: WebhookRequest,
            callbacks: list[InboundCallback]) -> Answer:
    """Run one call to ``/ACCOUNT/...`` through the account's plugin and record it."""
    try:
        account = engine.account(account_name)
    except ConfigError:
        return _failed(404, f"no account named {account_name!r} here")
    try:
        received = engine.registry.hook.postroom_receive(config=account.config, request=request)
    except Exception:  # a plugin's bug: the provider will call again
        log.exception("the %s plugin failed reading a webhook call for account %s",
                      account.provider, account.name)
        return _failed(500, "the call could not be read; it can be sent again")
    if received is None:
        return _failed(404, f"account {account.name!r} ({account.provider}) takes no webhooks")
    if not received.ok:
        log.warning("refused a webhook call for account %s (%s %s from %s): %s", account.name,
                    request.method, request.path, request.remote_addr or "?", received.reason)
        return _failed(received.status, received.reason)
    try:
        arrivals = tuple(take(engine, account, event) for event in received.events)
    except PluginError:
        log.exception("the %s plugin answered a webhook call for account %s with something "
                      "other than events", account.provider, account.name)
        return _failed(500, "the call could not be read; it can be sent again")
    except Exception:  # the store failed: nothing is lost, the provider calls again
        log.exception("could not record a webhook call for account %s", account.name)
        return _failed(500, "the call could not be recorded; it can be sent again")
    for arrival in arrivals:
        for callback in callbacks:
            try:
                callback(arrival)
            except Exception:  # the app's code: recorded already, so the call succeeded
                log.exception("an on_inbound callback failed for a %s of account %s",
                              arrival.kind, account.name)
    return Answer(received.status, received.body, received.content_type, arrivals)


def take(engine: Engine, account: Account, event: InboundEvent) -> Arrival:
    """Record one event for ``account``; what was done with it."""
    now = engine.clock()
    if isinstance(event, DeliveryReport):
        return take_report(engine, account, event, now)
    if isinstance(event, InboundMessage):
        return _take_message(engine, account, event, now)
    if isinstance(event, OptChange):
        return _take_opt_change(engine, account, event, now)
    raise PluginError(f"the {account.provider} plugin answered postroom_receive with a "
                      f"{type(event).__name__}; events are DeliveryReport, InboundMessage "
                      "or OptChange")


def take_report(engine: Engine, account: Account, report: DeliveryReport,
                now: float) -> Arrival:
    """Set the reported message's delivery state and log the report."""
    store = engine.store
    stored = store.find(report.message_id) if report.message_id else None
    if stored is None and report.provider_id:
        stored = store.find_sent(account.name, report.provider_id)
    if stored is None:
        log.warning("account %s: a delivery report (%s, provider id %s) for a message this "
                    "outbox does not know; it may be another system's or cleared",
                    account.name, report.status or report.state, report.provider_id)
        return Arrival(account.name, "report", report, None, recorded=False)
    entry = None
    if engine.config.store.log:
        text = "; ".join(part for part in (report.status, report.reason) if part)
        entry = LogEntry(stored.id, now, stored.account, account.provider, stored.recipient,
                         stored.summary, report.state, stored.attempts,
                         report.provider_id or stored.provider_id, report.code, text,
                         None if report.cost is None else str(report.cost), report.currency,
                         {"report": "delivery", **report.info})
    store.record_report(stored.id, report.state, entry)
    return Arrival(account.name, "report", report, stored.id)


def _take_message(engine: Engine, account: Account, message: InboundMessage,
                  now: float) -> Arrival:
    store = engine.store
    replied = store.find_sent(account.name, message.reply_to) if message.reply_to else None
    message_id = replied.id if replied else store.last_sent_to(account.name, message.sender)
    found = keyword(message.text, account.keywords) if account.channel == "sms" else None
    kind = "reply" if found is None else "opt_out" if found[0] else "opt_in"
    at = _epoch(message.at, now)
    entry = InboxEntry(new_message_id(), at, account.channel, account.name, kind,
                       message.sender, message.recipient, message.text, message.subject,
                       message_id, message.provider_id, dict(message.info))
    if not store.add_inbox([entry])[0]:
        log.info("account %s: message %s from %s came again; recorded once", account.name,
                 message.provider_id, message.sender)
        return Arrival(account.name, kind, message, message_id, recorded=False)
    if found is not None:
        _opt(engine, account, message.sender, found[0], found[1], at)
    return Arrival(account.name, kind, message, message_id)


def _take_opt_change(engine: Engine, account: Account, change: OptChange,
                     now: float) -> Arrival:
    kind = "opt_out" if change.opted_out else "opt_in"
    at = _epoch(change.at, now)
    said = change.keyword or f"the provider reports an {kind.replace('_', '-')}"
    engine.store.add_inbox([InboxEntry(new_message_id(), at, account.channel, account.name, kind,
                                       change.number, "", said, info=dict(change.info))])
    _opt(engine, account, change.number, change.opted_out, change.keyword, at)
    return Arrival(account.name, kind, change)


def _opt(engine: Engine, account: Account, number: str, opted_out: bool, word: str,
         at: float) -> None:
    changed = engine.store.set_opt_out(OptOut(account.channel, number, opted_out, at,
                                              account.name, word or None))
    when = datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
    if changed:
        log.info("%s opted %s of %s messages (%s to account %s at %s)", number,
                 "out" if opted_out else "back in", account.channel, word or "provider notice",
                 account.name, when)
    else:
        log.info("%s: an older opt-%s (%s) left the later choice as it was", number,
                 "out" if opted_out else "in", when)


__all__ = ["Answer", "Arrival", "InboundCallback", "receive", "take"]
