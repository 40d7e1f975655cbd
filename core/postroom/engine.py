"""``Engine``: the one object an application talks to.

::

    engine = Engine.from_file("postroom.toml")
    engine.send("office", to="ann@example.org", subject="Reminder", text="See you at 9.")
    engine.send("texts", to="07700 900123", text="See you at 9.")
    engine.run_worker(once=True)        # or run `postroom worker` beside the app

``send`` only puts messages in the outbox, durably; a worker sends them
within each account's schedule and records every try in the delivery log.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path

from attrs import define, evolve, field, frozen

from postroom.config import Account, Config, find_config_file, load_config, read_config_file
from postroom.errors import (
    ConfigError,
    InsufficientCredits,
    MessageError,
    PluginError,
    amount,
)
from postroom.files import size_text
from postroom.messages import EmailMessage, Message, SmsMessage, message_size, new_message_id
from postroom.notifications import Contact, Delivery, Event, Skip, plan
from postroom.plugins import PluginRegistry
from postroom.results import Credits, Diagnosis, Problem, SendResult
from postroom.scheduling import Estimate, estimate, localize
from postroom.sms_text import segment
from postroom.store import (
    AccountIdentity,
    Handled,
    LogEntry,
    NewMessage,
    Note,
    QueueRow,
    SQLiteStore,
    Store,
    StoredMessage,
)
from postroom.templating import Preview, Recipient, Templates
from postroom.worker import Worker, WorkerReport, history

log = logging.getLogger("postroom.engine")
RecipientLike = Recipient | str | Mapping[str, object]
ContactLike = Contact | str | Mapping[str, object]

UNKNOWN_ID = "no message with this id in the outbox: check the id against `postroom log`"
TRANSPORT_SETTINGS = frozenset({"tls_verify", "security", "base_url", "token_url"})
"""Settings whose warnings mean mail or secrets travel unprotected (certificate checks
off, plain text, plain HTTP): ``transport_warnings`` picks them out of ``validate``."""
# A message cancelled in flight: its worker is dead, or only slow and sending it.
LEASE_RAN_OUT = ("its worker's lease ran out; if that worker is still running it may "
                 "already have sent it: check `postroom log` for it")
# Why ``cancel`` and ``requeue`` leave a message as it was, by the state it is in.
NOT_CANCELLED = {
    "inflight": "a worker is sending it right now; should that fail, it goes back in the "
                "queue and cancelling it again stops it",
    "sent": "it was sent already: a sent message cannot be called back",
    "dead": "it failed for good already and will not be sent",
    "cancelled": "it was cancelled already",
}
NOT_REQUEUED = {
    "queued": "it is queued already (waiting, scheduled or to be retried) and goes when due",
    "inflight": "a worker is sending it right now",
    "sent": "it was sent: only dead messages are retried",
    # The same idempotency key would find the cancelled message and queue nothing.
    "cancelled": "it was cancelled: if it should go after all, send it again, "
                 "with a new idempotency key if it had one",
}


@define
class Notified:
    """What ``notify`` did: ``queued`` holds ``(delivery, account, message id)``
    for each message put in the outbox, ``skipped`` everyone not reached and why."""

    event: str
    queued: list[tuple[Delivery, str, str]] = field(factory=list)
    skipped: list[Skip] = field(factory=list)


@frozen
class Left:
    """A message ``cancel`` or ``requeue`` left as it was: its state before, and
    ``why`` for people. ``already`` marks one that was as asked already (a
    cancelled message named again), which is no failure."""

    message_id: str
    account: str | None
    state: str
    why: str
    already: bool


@define
class Changed:
    """What ``cancel`` or ``requeue`` did: ``done`` the messages it changed,
    ``left`` those named (or, for a whole account, in flight) that it did not.
    A message in ``done`` with a ``caveat`` may not be as asked: one cancelled
    after its worker's lease ran out may have been sent by that worker."""

    done: list[Handled] = field(factory=list)
    left: list[Left] = field(factory=list)

    @property
    def ok(self) -> bool:
        """Whether every message asked for is surely as asked: changed with no
        caveat, or as asked already."""
        return (all(item.already for item in self.left)
                and not any(item.caveat for item in self.done))


class Engine:
    """Sends messages through configured accounts and the plugins that serve them.

    ``store`` defaults to the SQLite file from ``[store] path``, opened on
    first use; ``clock`` (seconds since the epoch) is there for tests.
    """

    def __init__(self, config: Config, registry: PluginRegistry, *, store: Store | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.registry = registry
        self.clock = clock
        self.events: dict[str, Event] = dict(config.events)
        self._store = store
        self._store_lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | os.PathLike | None = None, *,
                  registry: PluginRegistry | None = None,
                  environ: Mapping[str, str] | None = None, strict: bool = False,
                  **kw) -> Engine:
        """Load ``path``, or ``$POSTROOM_CONFIG``, or ``./postroom.toml``.

        An account with problems of its own (a secret's variable not set) is
        kept aside, unusable, while the others work; ``strict=True`` raises
        ``ConfigError`` for it too.
        """
        found = find_config_file(path, environ)
        registry = registry or PluginRegistry(environ=environ)
        config = load_config(read_config_file(found), registry, path=found, environ=environ,
                             strict=strict)
        return cls(config, registry, **kw)

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, base_dir: str | os.PathLike | None = None,
                  registry: PluginRegistry | None = None,
                  environ: Mapping[str, str] | None = None, strict: bool = False,
                  **kw) -> Engine:
        """Configure from a dict shaped like ``postroom.toml``; ``strict`` as for ``from_file``."""
        registry = registry or PluginRegistry(environ=environ)
        base = Path(base_dir) if base_dir is not None else None
        return cls(load_config(data, registry, base_dir=base, environ=environ, strict=strict),
                   registry, **kw)

    @property
    def store(self) -> Store:
        with self._store_lock:
            if self._store is None:
                settings = self.config.store
                self._store = SQLiteStore(settings.path, settings.durability, self.clock,
                                          owners=self.identities())
            return self._store

    def identities(self) -> dict[str, AccountIdentity]:
        """What each usable account's messages are, as the outbox records its owners."""
        return {name: AccountIdentity(account.channel, account.config.sends_as())
                for name, account in self.config.accounts.items()}

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def account(self, name: str) -> Account:
        """The account called ``name``; the error lists the ones there are, or
        the problems of a broken one."""
        try:
            return self.config.accounts[name]
        except KeyError:
            if name in self.config.broken:
                raise self.config.broken[name].error() from None
            known = ", ".join([*self.config.accounts, *self.config.broken]) or "(none configured)"
            raise ConfigError([("accounts", f"no account named {name!r}; "
                                            f"configured accounts: {known}")]) from None

    @cached_property
    def templates(self) -> Templates:
        """The templates of ``[templates] directory``, compiled once and kept."""
        if self.config.templates is None:
            raise ConfigError([("templates", 'no [templates] section: add one with directory = '
                                             '"templates" to send or preview templates')])
        return Templates(self.config.templates, region=self.config.region)

    def validate(self) -> list[tuple[str, Problem]]:
        """Offline checks: ``(where, problem)`` pairs, ``where`` being the section
        (``accounts.office``, ``templates``) the problem's ``field`` is under."""
        found = []
        for name, broken in self.config.broken.items():
            found.extend((f"accounts.{name}", Problem.error(
                path.removeprefix(f"accounts.{name}").lstrip("."), message,
                "this account sends nothing until it is fixed; the others work"))
                for path, message in broken.problems)
        for name, account in self.config.accounts.items():
            answers = self.registry.hook.postroom_validate(config=account.config)
            found.extend((f"accounts.{name}", problem)
                         for answer in answers for problem in answer or ())
        if self.config.templates is not None:
            found.extend(("templates", problem) for problem in self.templates.problems())
        for name, event in self.events.items():
            if self.config.templates is None:
                found.append((f"events.{name}", Problem.error(
                    "template", "events are told through templates, and there is no "
                    "[templates] section", 'add [templates] with directory = "templates"')))
                continue
            for channel in event.channels:
                found.extend((f"events.{name}", problem)
                             for problem in self.templates.check(event.template, channel))
        return found

    def transport_warnings(self, accounts: Iterable[str] | None = None
                           ) -> list[tuple[str, Problem]]:
        """The warnings ``validate`` gives about ``accounts`` (default: all) whose
        messages or secrets would travel unprotected, for commands that send to
        repeat: a certificate check turned off, plain text, plain HTTP."""
        found = []
        for name in accounts or self.config.accounts:
            account = self.config.accounts.get(name)
            if account is None:
                continue
            answers = self.registry.hook.postroom_validate(config=account.config)
            found += [(f"accounts.{name}", problem) for answer in answers
                      for problem in answer or () if problem.severity == "warning"
                      and problem.field.rsplit(".", 1)[-1] in TRANSPORT_SETTINGS]
        return found

    def test(self, account: str, target: str | None = None) -> Diagnosis:
        """Check live that ``account`` works; with ``target``, send it a test message.

        A config ``validate`` finds an error in is not tried live: the
        diagnosis names the setting to fix, as it does for an account whose
        settings could not be read.
        """
        if account in self.config.broken:
            problems = "; ".join(f"{path}: {message}"
                                 for path, message in self.config.broken[account].problems)
            return Diagnosis.failed("config", "invalid-config", problems,
                                    "fix these settings; until then the account sends nothing "
                                    "and its messages stay queued")
        chosen = self.account(account)
        if target and chosen.channel == "sms":
            target = SmsMessage(to=target, text=".", region=chosen.region).to
        errors = self._config_errors(chosen)
        if errors:
            first = errors[0]
            return Diagnosis.failed("config", "invalid-config", f"{first.field}: {first.message}",
                                    first.hint)
        diagnosis = self.registry.hook.postroom_test(config=chosen.config, target=target)
        return self._answered("postroom_test", chosen, diagnosis, Diagnosis)

    def credits(self, account: str) -> Credits | None:
        """The account's balance, or None for providers that have no credit."""
        chosen = self.account(account)
        return self.registry.hook.postroom_credits(config=chosen.config)

    def message(self, account: str, **fields: object) -> Message:
        """Make the right kind of message for ``account`` from keyword fields."""
        chosen = self.account(account)
        if chosen.channel == "sms":
            fields.setdefault("region", chosen.region)
            return SmsMessage(**fields)
        return EmailMessage(**fields)

    def send(self, account: str, *messages: Message, template: str | None = None,
             recipients: Iterable[RecipientLike] = (), context: Mapping[str, object] | None = None,
             signature: bool = True, send_at: datetime | None = None,
             idempotency_key: str | None = None, now: bool = False,
             **fields: object) -> list[str]:
        """Put messages in the outbox for ``account``; return their ids.

        Pass message objects, or the fields of one message as keywords
        (``to=..., subject=..., text=...``), or a ``template`` rendered for
        each of ``recipients`` (addresses or numbers, ``Recipient`` objects
        with their own name, locale, time zone and values) over the shared
        ``context``; ``signature=False`` leaves the organisation's signature
        off. Everything is rendered and checked first: an error leaves the
        outbox as it was. Once this returns, the messages are on disk and
        survive any crash. ``send_at`` delays them (a naive datetime is read in
        the account's schedule time zone, else the configuration's, else UTC; a
        wall-clock time skipped by a DST change means the moment of the jump);
        a message larger than the account's ``max_message_size`` is refused with
        ``MessageError``. ``idempotency_key`` makes
        a repeated call with the same key a no-op (the first call's ids come
        back); ``now=True`` is an operator's "send now": it skips the stagger
        delay and send windows, never the provider's rate limits or daily cap.
        """
        chosen = self.account(account)
        batch = list(messages)
        if template is not None:
            people = list(recipients)
            if "to" in fields:
                to = fields.pop("to")
                people.extend([to] if isinstance(to, str) else to)
            extra = {"region": chosen.region} if chosen.channel == "sms" else {}
            rendered = self.templates.render_many(template, chosen.channel, people, context,
                                                  signature=signature)
            batch.extend(r.to_message(**fields, **extra) for r in rendered)
        elif fields:
            batch.append(self.message(account, **fields))
        self._check_batch(chosen, batch)
        self._check_size(chosen, batch)
        if send_at is not None and send_at.tzinfo is None:
            send_at = localize(send_at, chosen.schedule.timezone)
        not_before = send_at.timestamp() if send_at is not None else self.clock()
        keys = [None] * len(batch) if idempotency_key is None else [
            idempotency_key if i == 0 else f"{idempotency_key}#{i}" for i in range(len(batch))]
        items = [NewMessage(account, message, not_before, now, key)
                 for message, key in zip(batch, keys, strict=True)]
        hold = self._preflight(chosen, items)
        ids = self.store.enqueue(items)
        self._hold(hold)
        return ids

    def _preflight(self, account: Account, items: Sequence[NewMessage]) -> tuple[str, str] | None:
        """Compare a bulk send's cost, plus what the account's queued messages will
        cost, with the balance, as the account's config asks.

        Raises ``InsufficientCredits`` to refuse; returns ``(account, reason)``
        when the send is to be held. A balance that cannot be read lets the
        send through: the provider will refuse what it cannot charge.
        """
        config = account.config
        if config.preflight == "off" or len(items) < 2:
            return None
        needed = config.credits_needed([item.message for item in items])
        if needed is None:
            return None
        try:
            balance = self.registry.hook.postroom_credits(config=config)
        except Exception:  # a broken balance call must not block sending
            log.warning("account %s: could not read the balance before a bulk send",
                        account.name, exc_info=True)
            return None
        if balance is None:
            return None
        # A repeated idempotency key enqueues nothing, so its first copy is not counted twice.
        waiting = self.store.pending(account.name, {item.idempotency_key for item in items
                                                    if item.idempotency_key})
        queued = (config.credits_needed(waiting) or 0) if waiting else 0
        if needed + queued <= balance.balance:
            return None
        short = InsufficientCredits(account.name, needed, balance.balance, balance.unit,
                                    queued, len(waiting))
        if config.preflight == "refuse":
            raise short
        reason = f"held for credits: {amount(short.missing)} {balance.unit} missing"
        if waiting:
            reason += (f" ({amount(needed)} for this send and {amount(queued)} for the "
                       f"{len(waiting)} already queued, against a balance of "
                       f"{amount(balance.balance)}); top the account up")
        return account.name, reason

    def _hold(self, hold: tuple[str, str] | None) -> None:
        if hold is not None:
            name, reason = hold
            self.store.pause(name, self.clock() + self.config.delivery.stopped_pause, reason)
            log.warning("account %s: %s", name, reason)

    def register_event(self, event: Event) -> None:
        """Declare an event in code, beside those of ``[events]`` in the config."""
        self.events[event.name] = event

    def notify(self, event: str | Event, recipients: Iterable[ContactLike],
               context: Mapping[str, object] | None = None, *, key: str | None = None,
               signature: bool = True) -> Notified:
        """Tell ``recipients`` about ``event``, each the way they chose.

        Each contact's channels (their own preference, else the event's) are
        resolved to an address, rendered from the event's template part for
        that channel and queued on the first working account of the channel's
        group; a contact using an email-to-SMS gateway gets the SMS part by
        email. Everyone skipped (not subscribed, no address for the channel,
        an invalid number) is written to the log with the reason, as is a
        critical event reaching someone who opted out. All is rendered before
        anything is queued. With ``key``, calling again for the same event,
        contact and channel queues nothing new.
        """
        chosen = event if isinstance(event, Event) else self._event(event)
        contacts = [Contact.of(r) for r in recipients]
        deliveries, skipped = plan(chosen, contacts, self.config.gateways, self.config.region)
        now = self.clock()
        pauses = self.store.pauses(now)
        items: list[tuple[Delivery, NewMessage]] = []
        for delivery in deliveries:
            account = self.standby(delivery.route, pauses=pauses)
            if account is None:
                skipped.append(Skip(delivery.contact, delivery.channel,
                                    f"no {delivery.route} account is configured"))
                continue
            message = self._notification(chosen, delivery, context, signature)
            if isinstance(message, Skip):
                skipped.append(message)
                continue
            self._check_size(self.account(account), [message])
            idempotency = None if key is None else (
                f"{key}:{chosen.name}:{delivery.contact.label}:{delivery.channel}")
            items.append((delivery, NewMessage(account, message, now, manual=chosen.critical,
                                               idempotency_key=idempotency,
                                               route=delivery.route)))
        holds = [self._preflight(self.account(name), [i for _, i in items if i.account == name])
                 for name in sorted({item.account for _, item in items})]
        ids = self.store.enqueue([item for _, item in items])
        for hold in holds:
            self._hold(hold)
        result = Notified(chosen.name, [(d, item.account, mid)
                                        for (d, item), mid in zip(items, ids, strict=True)],
                          skipped)
        notes = [LogEntry(new_message_id(), now, "-", "-", s.contact.label, f"event {chosen.name}",
                          "skipped", 0, text=f"{s.channel or 'all channels'}: {s.reason}")
                 for s in skipped]
        notes += [LogEntry(mid, now, account, "-", d.contact.label, f"event {chosen.name}",
                           "override", 0, text=d.note)
                  for d, account, mid in result.queued if d.note]
        if notes and self.config.store.log:
            self.store.append_log(notes)
        return result

    def _event(self, name: str) -> Event:
        try:
            return self.events[name]
        except KeyError:
            known = ", ".join(sorted(self.events)) or "(none declared)"
            raise ConfigError([("events", f"no event named {name!r}; declared events: "
                                          f"{known}")]) from None

    def _notification(self, event: Event, delivery: Delivery,
                      context: Mapping[str, object] | None, signature: bool) -> Message | Skip:
        contact = delivery.contact
        recipient = Recipient(to=delivery.to, name=contact.name, locale=contact.locale,
                              timezone=contact.timezone, context=contact.context)
        rendered = self.templates.render(event.template, delivery.channel, context,
                                         recipient=recipient, signature=signature)
        if delivery.route == delivery.channel:
            extra = {"region": self.config.region} if delivery.channel == "sms" else {}
            return rendered.to_message(**extra)
        # An SMS through a carrier's email gateway: the SMS text and its length rules.
        text = rendered.text or ""
        parts = segment(text).segments
        limit = self.config.templates.max_sms_segments if self.config.templates else 1
        if parts > limit:
            return Skip(contact, "sms", f"the SMS is {parts} segments, more than the "
                                        f"{limit} a gateway message may be")
        return EmailMessage(to=delivery.to, subject="", text=text)

    def deliver(self, account: str, messages: Sequence[Message]) -> list[SendResult]:
        """Send a batch through the provider now, bypassing the outbox.

        The worker calls this; apps want ``send``, which is durable and
        honours the account's schedule. An account whose config has an error
        sends nothing: every message comes back ``account_stopped``, so the
        account pauses and the messages wait for the fix.
        """
        chosen = self.account(account)
        batch = list(messages)
        self._check_batch(chosen, batch)
        errors = self._config_errors(chosen)
        if errors:
            text = "; ".join(f"{p.field}: {p.message}" + (f" ({p.hint})" if p.hint else "")
                             for p in errors)
            return [SendResult.account_stopped(m.id, None, text) for m in batch]
        results = self.registry.hook.postroom_send(config=chosen.config, messages=batch)
        results = self._answered("postroom_send", chosen, results, list)
        if [r.message_id for r in results] != [m.id for m in batch]:
            raise PluginError(f"the {chosen.provider} plugin answered postroom_send with "
                              f"{len(results)} results for {len(batch)} messages, or out of order")
        return results

    def run_worker(self, *, once: bool = False, accounts: Sequence[str] | None = None,
                   stop: threading.Event | None = None, wait: float | None = None,
                   progress: Callable[[WorkerReport], None] | None = None) -> WorkerReport:
        """Send what is due, account by account, within each account's schedule.

        Runs until ``stop`` is set; with ``once``, until nothing due can go
        within ``wait`` seconds (default ``[delivery] once_wait``).
        """
        for name in accounts or ():
            self.account(name)
        worker = Worker(self, accounts=accounts, stop=stop, progress=progress)
        return worker.run(once=once, wait=wait)

    def preview(self, template: str, *, account: str | None = None,
                channels: Sequence[str] | None = None, context: Mapping[str, object] | None = None,
                recipient: RecipientLike | None = None, signature: bool = True) -> Preview:
        """Every part of ``template`` exactly as it would be sent, with the SMS
        encoding, segments and, given an SMS ``account`` with a price, the cost."""
        price = None
        if account is not None:
            chosen = self.account(account)
            price = chosen.price_per_segment
            channels = channels or [chosen.channel]
        return self.templates.preview(template, channels, context, recipient=recipient,
                                      signature=signature, price_per_segment=price)

    def estimate(self, account: str, count: int, at: datetime | None = None) -> Estimate:
        """When ``count`` messages sent now through ``account`` would all have gone."""
        chosen = self.account(account)
        now = at or datetime.fromtimestamp(self.clock(), UTC)
        seen = history(self, chosen, now.timestamp())
        return estimate(chosen.schedule, count, now, seen,
                        self.config.delivery.warn_after_days)

    def queue(self) -> list[QueueRow]:
        """Per-account counts: waiting, scheduled, in flight, dead, cancelled, sent today."""
        now = self.clock()
        midnight = datetime.fromtimestamp(now, self.config.timezone).replace(
            hour=0, minute=0, second=0, microsecond=0)
        return self.store.queue(now, midnight.timestamp())

    def cancel(self, ids: str | Iterable[str] = (), *, account: str | None = None,
               reason: str = "") -> Changed:
        """Cancel queued messages so that no worker sends them: those of ``ids``
        (one id may be passed as a string), or with ``account`` alone everything
        queued for that account (given both, only the ids of that account).

        A message a worker is sending under its lease is left alone, as are
        sent, dead and unknown ones: ``Changed.left`` says why for each. One
        whose worker's lease ran out is cancelled (that worker may have died)
        with a ``caveat``: if the worker is only slow it may send it, and the
        outbox then records it sent. With the delivery log on, every message
        cancelled gets a log entry ``cancelled`` with ``reason``.
        Raises ``MessageError`` when neither ids nor account is given.
        """
        chosen = self._operator_choice(ids, account, "cancel", "everything queued for it")
        found = self.store.cancel(self.clock(), chosen, account,
                                  self._note("cancelled", lambda stored: reason))
        return self._changed(found, account, "cancelled", NOT_CANCELLED)

    def requeue(self, ids: str | Iterable[str] = (), *,
                account: str | None = None) -> Changed:
        """Put dead messages back in the queue, due now, their tries counted from
        zero: those of ``ids`` (or the one id given as a string), or with
        ``account`` alone all the account's dead messages. For after the cause
        is fixed (credentials, a full mailbox).

        Messages that are not dead are left, each with why in ``Changed.left``;
        every message requeued gets a log entry ``requeued``.
        """
        chosen = self._operator_choice(ids, account, "retry", "all its dead messages")
        found = self.store.requeue(self.clock(), chosen, account, self._note(
            "requeued", lambda stored: f"back in the queue after {stored.attempts} "
                                       f"tr{'y' if stored.attempts == 1 else 'ies'}, "
                                       "counted from zero again"))
        return self._changed(found, account, "queued", NOT_REQUEUED)

    def _operator_choice(self, ids: str | Iterable[str], account: str | None, verb: str,
                         everything: str) -> list[str]:
        if isinstance(ids, str):  # one id, not its characters
            ids = [ids]
        chosen = [mid.strip() for mid in ids if mid.strip()]
        if not chosen and account is None:
            raise MessageError("ids", f"nothing named to {verb}: give the ids of the messages, "
                                      f"or an account to {verb} {everything}")
        # An account dropped from the config may still have messages to deal with.
        if account is not None and account not in self.config.accounts and not any(
                row.account == account for row in self.queue()):
            self.account(account)  # raises, naming the accounts there are
        return chosen

    def _note(self, outcome: str, text: Callable[[StoredMessage], str]) -> Note:
        if not self.config.store.log:
            return None
        now = self.clock()
        return lambda stored: self._entry(stored, now, outcome, text=text(stored))

    def _entry(self, stored: StoredMessage, at: float, outcome: str,
               **details: object) -> LogEntry:
        """A log entry about a message already in the outbox."""
        account = self.config.accounts.get(stored.account)
        fields = {"provider_id": stored.provider_id, **details}
        return LogEntry(stored.id, at, stored.account, account.provider if account else "?",
                        stored.recipient, stored.summary, outcome, stored.attempts, **fields)

    @staticmethod
    def _changed(found: list[Handled], account: str | None, target: str,
                 reasons: Mapping[str, str]) -> Changed:
        result = Changed()
        for item in found:
            if item.changed:
                # Only a lease that ran out lets a message in flight change.
                result.done.append(evolve(item, caveat=LEASE_RAN_OUT)
                                   if item.state == "inflight" else item)
                continue
            already = False
            if item.state == "unknown":
                why = UNKNOWN_ID
            elif account is not None and item.account != account:
                why = (f"it is a message of account {item.account}, not {account}: "
                       "check the id, or leave out the account")
            else:
                why = reasons.get(item.state, f"it is {item.state}")
                already = item.state == target
            result.left.append(Left(item.message_id, item.account, item.state, why, already))
        return result

    def log(self, **filters: object) -> list[LogEntry]:
        """Delivery-log entries, newest first: ``account``, ``outcome``, ``since``
        (epoch seconds), ``recipient`` (substring), ``message_id``, ``limit``."""
        return self.store.log(**filters)

    def record_report(self, message_id: str, status: str, *, provider_id: str | None = None,
                      code: str | None = None, text: str = "", cost: Decimal | None = None,
                      currency: str | None = None, info: Mapping[str, str] | None = None
                      ) -> LogEntry:
        """Log a delivery report a provider sent after accepting a message.

        ``status`` is the provider's word (``delivered``, ``failed``,
        ``expired``...); it becomes the log entry's outcome, so ``postroom
        log --recipient`` answers "did it arrive?". Raises ``MessageError``
        for a message id the outbox does not know.
        """
        stored = self.store.find(message_id)
        if stored is None:
            raise MessageError("message_id", f"no message {message_id!r} in the outbox; the "
                                             "report may be for another postroom or too old")
        entry = self._entry(stored, self.clock(), status,
                            provider_id=provider_id or stored.provider_id, code=code, text=text,
                            cost=None if cost is None else str(cost), currency=currency,
                            info={"report": "delivery", **(info or {})})
        if self.config.store.log:
            self.store.append_log([entry])
        return entry

    def clear_log(self, before: datetime | None = None) -> int:
        """Delete the delivery log, or the part older than ``before``."""
        return self.store.clear_log(None if before is None else before.timestamp())

    def standby(self, route: str, *, instead_of: str | None = None,
                pauses: Mapping[str, object] | None = None) -> str | None:
        """The first account of ``route``'s group that is not paused (and is not
        ``instead_of``, the account that just failed): where a message goes."""
        pauses = self.store.pauses(self.clock()) if pauses is None else pauses
        for name in self.config.channels.get(route, []):
            if name != instead_of and name not in pauses and name not in self.config.broken:
                return name
        return None

    def _config_errors(self, account: Account) -> list[Problem]:
        answers = self.registry.hook.postroom_validate(config=account.config)
        return [p for answer in answers for p in answer or () if p.severity == "error"]

    def _check_batch(self, account: Account, batch: list[Message]) -> None:
        if not batch:
            raise MessageError("messages", "nothing to send: pass messages or message fields")
        for message in batch:
            if message.channel != account.channel:
                raise MessageError("messages", f"account {account.name!r} sends "
                                               f"{account.channel}, not {message.channel}; "
                                               f"choose an {message.channel} account")

    @staticmethod
    def _check_size(account: Account, batch: list[Message]) -> None:
        """Refuse a message larger than the account's ``max_message_size``."""
        limit = account.max_message_size
        for message in batch:
            size = message_size(message)
            if size <= limit:
                continue
            if message.channel == "sms":
                raise MessageError("text", f"the text is {size:,} characters, more than the "
                                           f"{limit:,} account {account.name!r} takes "
                                           "(max_message_size): shorten it")
            raise MessageError("attachments" if message.attachments else "text",
                               f"the message is {size_text(size)}, more than the "
                               f"{size_text(limit)} account {account.name!r} takes "
                               "(max_message_size): send large files another way, or raise "
                               "max_message_size if the provider takes more")

    def _answered(self, hook: str, account: Account, answer, kind):
        if answer is None:
            raise PluginError(f"no plugin answered {hook} for account {account.name!r} "
                              f"(provider {account.provider!r})")
        if not isinstance(answer, kind) and not (kind is list and isinstance(answer, Sequence)):
            raise PluginError(f"the {account.provider} plugin answered {hook} with "
                              f"{type(answer).__name__}, expected {kind.__name__}")
        return list(answer) if kind is list else answer


__all__ = ["Changed", "Engine", "Left"]
