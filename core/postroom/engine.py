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
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path

from attrs import define, evolve, field, frozen

from postroom import capture
from postroom.account_status import AccountStatus, SentToday, sent_today_since, status_of
from postroom.archive import with_archive_copy
from postroom.batches import BatchProgress, SentIds, checked_batch_id, new_batch_id, progress
from postroom.check_times import next_release
from postroom.config import Account, Config, find_config_file, load_config, read_config_file
from postroom.consent import messages_opted_out, opted_out_reason
from postroom.credit_watch import CreditWatch, LowCredit, LowCreditCallback
from postroom.dispatch import ResultStream, config_errors, send_stream
from postroom.errors import (
    ConfigError,
    InsufficientCredits,
    MessageError,
    PluginError,
    StoreUnavailable,
    amount,
)
from postroom.files import size_text
from postroom.health import HealthReport, gather, named, switched_off_by
from postroom.inbound import DeliveryReport
from postroom.logs import event as log_event
from postroom.mailbox import MailboxFailed, MailboxReport, MailboxSettings
from postroom.mailbox.check import read_new_mail
from postroom.mailbox.diagnosis import explain as explain_mailbox
from postroom.mailbox.servers import Mailbox, MailboxError, open_mailbox
from postroom.messages import EmailMessage, Message, SmsMessage, message_size, new_message_id
from postroom.notifications import Contact, Delivery, Event, Skip, plan
from postroom.plugins import PluginRegistry
from postroom.receiving import Answer, Arrival, InboundCallback, receive, take_report
from postroom.results import Credits, Diagnosis, Problem, SendResult
from postroom.scheduling import Estimate, NeverOpen, estimate, localize
from postroom.sms_text import segment
from postroom.store import (
    AccountIdentity,
    AccountState,
    Handled,
    InboxEntry,
    LogEntry,
    NewMessage,
    Note,
    OptOut,
    QueueRow,
    Store,
    StoredMessage,
    open_store,
)
from postroom.templating import Preview, Recipient, Templates
from postroom.webhooks.request import WebhookRequest
from postroom.worker import Worker, WorkerReport
from postroom.worker.events import Watcher
from postroom.worker.outcomes import standby

log = logging.getLogger("postroom.engine")
RecipientLike = Recipient | str | Mapping[str, object]
ContactLike = Contact | str | Mapping[str, object]

# What ``prune`` always keeps: a week. Delivery reports and bounces come days after
# the send (a mail server gives up after five) and are matched to their message;
# the limits look back a day (daily_cap, in the account's time zone) or a min_gap.
PRUNE_KEEPS = 7 * 86400
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
    for each message put in the outbox, ``skipped`` everyone not reached and why,
    ``batch`` the batch id of the messages when there are several."""

    event: str
    queued: list[tuple[Delivery, str, str]] = field(factory=list)
    skipped: list[Skip] = field(factory=list)
    batch: str | None = None


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
        testing = capture.current()
        if testing is not None:  # an app's test run: capture, and keep off the real outbox
            config, registry, store = testing.adopt(config, registry, clock)
        self._on_render = testing.outbox.record_rendered if testing is not None else None
        self.config = config
        self.registry = registry
        self.clock = clock
        self.events: dict[str, Event] = dict(config.events)
        self._store = store
        self._store_lock = threading.Lock()
        self._inbound_callbacks: list[InboundCallback] = []
        self._credit_watch = CreditWatch(lambda name, low: self.store.note_credit(name, low),
                                         self._credit_notice, clock)

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
        return cls._configured(read_config_file(found), registry, environ, path=found,
                               strict=strict, **kw)

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, base_dir: str | os.PathLike | None = None,
                  registry: PluginRegistry | None = None,
                  environ: Mapping[str, str] | None = None, strict: bool = False,
                  **kw) -> Engine:
        """Configure from a dict shaped like ``postroom.toml``; ``strict`` as for ``from_file``."""
        base = Path(base_dir) if base_dir is not None else None
        return cls._configured(data, registry, environ, base_dir=base, strict=strict, **kw)

    @classmethod
    def _configured(cls, data: Mapping[str, object], registry: PluginRegistry | None,
                    environ: Mapping[str, str] | None, *, path: Path | None = None,
                    base_dir: Path | None = None, strict: bool = False, **kw) -> Engine:
        registry = registry or PluginRegistry(environ=environ)
        testing = capture.current()
        if testing is not None:  # a test run has no production secrets
            data = testing.lenient(data, base_dir or (path.parent if path else None), environ)
        config = load_config(data, registry, path=path, base_dir=base_dir, environ=environ,
                             strict=strict)
        return cls(config, registry, **kw)

    @property
    def store(self) -> Store:
        with self._store_lock:
            if self._store is None:
                self._store = open_store(self.config.store, self.clock,
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
        return Templates(self.config.templates, region=self.config.region,
                         on_render=self._on_render)

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
            if account.mailbox is not None:
                found.extend((f"accounts.{name}", problem)
                             for problem in account.mailbox.problems())
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

    def test(self, account: str, target: str | None = None, *,
             by: str | None = None) -> Diagnosis:
        """Check live that ``account`` works; with ``target``, send it a test message.

        A config ``validate`` finds an error in is not tried live: the
        diagnosis names the setting to fix. ``by`` names who asked (``"ann
        (web)"``): given with a ``target``, the test send is written to the
        delivery log as outcome ``test``, with who sent it. An account whose
        settings could not be read is named with the settings to fix.
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
        errors = config_errors(self.registry, chosen)
        if errors:
            first = errors[0]
            return Diagnosis.failed("config", "invalid-config", f"{first.field}: {first.message}",
                                    first.hint)
        diagnosis = self.registry.hook.postroom_test(config=chosen.config, target=target)
        diagnosis = self._answered("postroom_test", chosen, diagnosis, Diagnosis)
        self._credit_watch.read(chosen.name, diagnosis.credits, "test")
        if target and by is not None and self.config.store.log:
            self.store.append_log([LogEntry(
                new_message_id(), self.clock(), chosen.name, chosen.provider, target,
                "test message", "test", 0, code=diagnosis.category,
                text=diagnosis.detail, info={"by": by})])
        if not diagnosis.ok or chosen.mailbox is None:
            return diagnosis
        # The incoming mailbox is part of the account: test it the same way.
        mailbox = self.test_mailbox(account)
        facts = {**diagnosis.facts, **{f"mailbox {k}" if k != "mailbox" else k: v
                                       for k, v in mailbox.facts.items()}}
        return evolve(diagnosis if mailbox.ok else mailbox, facts=facts)

    def credits(self, account: str) -> Credits | None:
        """The account's balance, or None for providers that have no credit; the
        outbox keeps it for ``health`` and metrics.

        A balance below the account's threshold is told to the app
        (``on_low_credit``) once per crossing, as every balance read is."""
        chosen = self.account(account)
        balance = self.registry.hook.postroom_credits(config=chosen.config)
        if balance is not None:
            try:
                self.store.note_credits(account, balance, self.clock())
            except StoreUnavailable as error:  # the balance was read: still answer
                log.warning("could not keep the balance of %s: %s", account, error)
        self._credit_watch.read(chosen.name, balance, "credits")
        return balance

    def credits_spent(self, account: Account, source: str = "after a batch") -> None:
        """Read the balance after messages that cost money (the worker calls it after
        a batch whose results report a cost or balance), telling the app when it
        fell below the threshold. A balance that cannot be read is logged, never
        raised: the messages went."""
        try:
            balance = self.registry.hook.postroom_credits(config=account.config)
            self._credit_watch.read(account.name, balance, source)
        except Exception:
            log.warning("account %s: could not read the balance (%s)", account.name, source,
                        exc_info=True)

    def on_low_credit(self, callback: LowCreditCallback) -> LowCreditCallback:
        """Call ``callback(LowCredit)`` when a balance read finds an account's credit
        below its threshold: once per crossing, recorded in the store, so of all
        the processes reading balances only the first to see it calls its
        callbacks (register them in the process that runs the worker to hear of
        reads after batches). Usable as a decorator."""
        return self._credit_watch.subscribe(callback)

    def _credit_notice(self, found: LowCredit) -> None:
        """Log a crossing and, with ``[admin]``, queue a notice email to the admin."""
        account = self.config.accounts.get(found.account)
        self._note_action(found.account, account.provider if account else "-",
                          "credit below the threshold", "low-credit", found.text, None)
        admin = self.config.admin
        if admin is None or admin.account is None:
            return
        stamp = found.at.strftime("%Y-%m-%dT%H:%M:%S")
        self.send(admin.account, to=admin.email, now=True,
                  subject=f"postroom: the credit of {found.account} is low",
                  text=f"{found.text}.\n\nRead at {stamp} UTC. This notice is sent once each "
                       "time the balance falls below the threshold.",
                  idempotency_key=f"low-credit:{found.account}:{stamp}")

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
             idempotency_key: str | None = None, now: bool = False, batch: str | None = None,
             connection: object = None, **fields: object) -> SentIds:
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

        The ids come back as a list with a ``batch`` attribute: a send of more
        than one message gets a batch id (``batch`` chooses it), by which
        ``queue``, ``cancel`` and ``log`` follow the bulk send as a whole.
        ``connection``, with the PostgreSQL store: your app's own open psycopg
        connection to the same database. The messages are written in its
        current transaction, so they are queued if it commits and never if it
        rolls back (workers see them from the commit on).
        """
        chosen = self.account(account)
        chosen_batch = None if batch is None else checked_batch_id(batch)
        outgoing = list(messages)
        if template is not None:
            people = list(recipients)
            if "to" in fields:
                to = fields.pop("to")
                people.extend([to] if isinstance(to, str) else to)
            extra = {"region": chosen.region} if chosen.channel == "sms" else {}
            rendered = self.templates.render_many(template, chosen.channel, people, context,
                                                  signature=signature)
            outgoing.extend(r.to_message(**fields, **extra) for r in rendered)
        elif fields:
            outgoing.append(self.message(account, **fields))
        self._check_batch(chosen, outgoing)
        self._check_size(chosen, outgoing)
        if send_at is not None and send_at.tzinfo is None:
            send_at = localize(send_at, chosen.schedule.timezone)
        not_before = send_at.timestamp() if send_at is not None else self.clock()
        keys = [None] * len(outgoing) if idempotency_key is None else [
            idempotency_key if i == 0 else f"{idempotency_key}#{i}" for i in range(len(outgoing))]
        group = self._batch_of(len(outgoing), chosen_batch, idempotency_key)
        items = [NewMessage(account, message, not_before, now, key, batch=group)
                 for message, key in zip(outgoing, keys, strict=True)]
        refused = messages_opted_out(self.store, chosen.channel, [i.message for i in items])
        items = [item for item in items if item.message.id not in refused]
        hold = self._preflight(chosen, items)
        queued = iter(self.store.enqueue(items, connection) if items else [])
        self._hold(hold)
        self._log_opted_out(chosen, [m for m in outgoing if m.id in refused], refused)
        return SentIds([message.id if message.id in refused else next(queued)
                        for message in outgoing], group)

    def _log_opted_out(self, account: Account, messages: Sequence[Message],
                       reasons: Mapping[str, str]) -> None:
        if messages and self.config.store.log:
            now = self.clock()
            self.store.append_log([
                LogEntry(m.id, now, account.name, account.provider, ", ".join(m.recipients),
                         m.summary, "skipped", 0, text=reasons[m.id]) for m in messages])

    @staticmethod
    def _batch_of(count: int, chosen: str | None, key: str | None) -> str | None:
        """The batch id of a send of ``count`` messages: the caller's, else a new one
        (the same for the same idempotency ``key``) when there are several."""
        if chosen is not None or count < 2:
            return chosen
        return new_batch_id(key)

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
        self._credit_watch.read(account.name, balance, "pre-flight")
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
               signature: bool = True, batch: str | None = None) -> Notified:
        """Tell ``recipients`` about ``event``, each the way they chose.

        Each contact's channels (their own preference, else the event's) are
        resolved to an address, rendered from the event's template part for
        that channel and queued on the first working account of the channel's
        group; a contact using an email-to-SMS gateway gets the SMS part by
        email. Everyone skipped (not subscribed, no address for the channel,
        an invalid number) is written to the log with the reason, as is a
        critical event reaching someone who opted out. All is rendered before
        anything is queued. With ``key``, calling again for the same event,
        contact and channel queues nothing new. More than one message queued
        gets a batch id (``batch`` chooses it), in ``Notified.batch``.
        """
        chosen_batch = None if batch is None else checked_batch_id(batch)
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
            opted_out = opted_out_reason(self.store, delivery.route, delivery.to)
            if opted_out and not chosen.critical:
                skipped.append(Skip(delivery.contact, delivery.channel, opted_out))
                continue
            if opted_out:
                delivery = evolve(delivery, note=f"critical event: sent although {opted_out}")
            message = self._notification(chosen, delivery, context, signature)
            if isinstance(message, Skip):
                skipped.append(message)
                continue
            self._check_size(self.account(account), [message])
            idempotency = None if key is None else (
                f"{key}:{chosen.name}:{delivery.contact.label}:{delivery.channel}")
            items.append((delivery, NewMessage(account, message, now, manual=chosen.critical,
                                               idempotency_key=idempotency,
                                               route=delivery.route, critical=chosen.critical)))
        group = self._batch_of(len(items), chosen_batch,
                               None if key is None else f"{key}:{chosen.name}")
        items = [(d, evolve(item, batch=group)) for d, item in items]
        holds = [self._preflight(self.account(name), [i for _, i in items if i.account == name])
                 for name in sorted({item.account for _, item in items})]
        ids = self.store.enqueue([item for _, item in items])
        for hold in holds:
            self._hold(hold)
        result = Notified(chosen.name, [(d, item.account, mid)
                                        for (d, item), mid in zip(items, ids, strict=True)],
                          skipped, group)
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

        For tests and tools; apps want ``send``, which is durable and honours
        the account's schedule. An account whose config has an error sends
        nothing: every message comes back ``account_stopped``.
        """
        chosen = self.account(account)
        batch = list(messages)
        self._check_batch(chosen, batch)
        stream = self.dispatch(chosen, batch)
        try:
            return list(stream)
        finally:
            stream.close()

    def dispatch(self, account: Account, messages: Sequence[Message]) -> ResultStream:
        """Hand a batch to the account's plugin; its results, one at a time (the worker's
        way). Emails go to the account's ``archive_bcc`` too (``postroom.archive``)."""
        return send_stream(self.registry, account,
                           with_archive_copy(messages, account.archive_bcc))

    def run_worker(self, *, once: bool = False, accounts: Sequence[str] | None = None,
                   stop: threading.Event | None = None, wait: float | None = None,
                   progress: Callable[[WorkerReport], None] | None = None,
                   messages: Iterable[str] = (), watchers: Sequence[Watcher] = (),
                   worker_id: str | None = None,
                   concurrency: int | None = None) -> WorkerReport:
        """Send what is due, account by account, within each account's schedule.

        Runs until ``stop`` is set; with ``once``, until nothing due can go
        within ``wait`` seconds (default ``[delivery] once_wait``) of the last
        message sent or failed for good. ``messages`` (ids) sends only those:
        what an operator's "send now" queued, not the account's backlog.

        Every try, batch and change of an account is logged to
        ``postroom.worker`` and handed to ``watchers`` (see
        ``postroom.worker.events``). A worker serving the outbox (not only
        ``messages``) keeps a heartbeat in the store for ``health``.
        ``concurrency`` (default ``[delivery] concurrency``) is how many batches
        it sends at once, each in its own thread and connection.
        """
        for name in accounts or ():
            self.account(name)
        chosen = list(messages)
        worker = Worker(self, accounts=accounts, messages=chosen, stop=stop,
                        progress=progress, watchers=watchers, presence=not chosen,
                        worker_id=worker_id, concurrency=concurrency)
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
        """When ``count`` messages sent now through ``account`` would all have gone:
        from its next check for a scheduled account, as if flushed now for a
        manual one (``note`` says so), with how many fit in each dated session.
        Raises ``ConfigError`` when they do not fit in the sessions configured."""
        chosen = self.account(account)
        schedule = chosen.schedule
        now = at or datetime.fromtimestamp(self.clock(), UTC)
        usage = self.store.usage(chosen.name, schedule)
        check = next_release(schedule, now)
        try:
            found = estimate(schedule, count, now, usage, self.config.delivery.warn_after_days,
                             start=None if check is None else datetime.fromtimestamp(check, UTC))
        except NeverOpen as exc:
            raise ConfigError([(f"accounts.{chosen.name}.schedule.sessions", str(exc))]) from None
        if schedule.mode == "manual":
            found = evolve(found, note="manual sending: they wait until someone flushes the "
                                       f"queue (postroom queue flush -a {chosen.name}); the "
                                       "times are from a flush now")
        return found

    def queue(self) -> list[QueueRow]:
        """Per-account counts: waiting, scheduled, in flight, dead, cancelled, sent today."""
        now = self.clock()
        midnight = datetime.fromtimestamp(now, self.config.timezone).replace(
            hour=0, minute=0, second=0, microsecond=0)
        return self.store.queue(now, midnight.timestamp())

    def cancel(self, ids: str | Iterable[str] = (), *, account: str | None = None,
               reason: str = "", by: str | None = None, batch: str | None = None) -> Changed:
        """Cancel queued messages so that no worker sends them: those of ``ids``
        (one id may be passed as a string), or with ``account`` alone everything
        queued for that account (given both, only the ids of that account).

        A message a worker is sending under its lease is left alone, as are
        sent, dead and unknown ones: ``Changed.left`` says why for each. One
        whose worker's lease ran out is cancelled (that worker may have died)
        with a ``caveat``: if the worker is only slow it may send it, and the
        outbox then records it sent. With the delivery log on, every message
        cancelled gets a log entry ``cancelled`` with ``reason`` and, given
        ``by``, who cancelled it. ``batch`` cancels every queued message of that
        bulk send (only those of ``account`` when it is given too). Raises
        ``MessageError`` when none of ids, account and batch is given.
        """
        chosen = [] if batch is not None else self._operator_choice(
            ids, account, "cancel", "everything queued for it")
        found = self.store.cancel(self.clock(), chosen, account,
                                  self._note("cancelled", lambda stored: reason, by), batch)
        return self._changed(found, account, "cancelled", NOT_CANCELLED)

    def requeue(self, ids: str | Iterable[str] = (), *,
                account: str | None = None, by: str | None = None) -> Changed:
        """Put dead messages back in the queue, due now, their tries counted from
        zero: those of ``ids`` (or the one id given as a string), or with
        ``account`` alone all the account's dead messages. For after the cause
        is fixed (credentials, a full mailbox).

        Messages that are not dead are left, each with why in ``Changed.left``;
        every message requeued gets a log entry ``requeued`` (with ``by``,
        who asked, when given).
        """
        chosen = self._operator_choice(ids, account, "retry", "all its dead messages")
        found = self.store.requeue(self.clock(), chosen, account, self._note(
            "requeued", lambda stored: f"back in the queue after {stored.attempts} "
                                       f"tr{'y' if stored.attempts == 1 else 'ies'}, "
                                       "counted from zero again", by))
        return self._changed(found, account, "queued", NOT_REQUEUED)

    def flush(self, account: str, *, by: str | None = None) -> int:
        """Send what waits for ``account`` now, as a "Send" button does: no stagger, no
        window, no check time, not held by the manual mode, but within the
        provider's rate limits and the daily cap. Takes the messages due (or
        waiting to be tried again), not those an app scheduled for later;
        returns how many. A worker sends them (``postroom queue flush`` runs
        one). Logged as ``flushed`` with ``by``, who asked. Raises
        ``ConfigError`` for an account switched off: enable it first.
        """
        chosen = self.account(account)
        state = self.store.account_states().get(chosen.name, AccountState())
        if not chosen.enabled or not state.enabled:
            why = status_of(chosen, state, None, 0, self.clock()).why_held
            raise ConfigError([(f"accounts.{account}", f"the account is {why}; enable it "
                                                       "first, then flush its queue")])
        count = self.store.flush(chosen.name)
        self._note_action(chosen.name, chosen.provider, "queue flushed", "flushed",
                          f"{count} waiting message{'s' * (count != 1)} to be sent now", by)
        return count

    def disable(self, account: str, reason: str = "", *, by: str | None = None) -> bool:
        """Switch ``account`` off for every worker on every host: its messages stay
        queued (nothing is lost) and its mailbox is not read until ``enable``.
        Returns False when it was off already. Logged as ``disabled`` and as the
        log event ``account_disabled``."""
        chosen = self.account(account)
        changed = self.store.switch(chosen.name, False, reason, by or "")
        if changed:
            self._note_action(chosen.name, chosen.provider, "account switched off",
                              "disabled", reason, by)
            # info, not warning: a person chose it, unlike a pause (see postroom.health).
            log_event(log, logging.INFO, "account_disabled",
                      f"account {chosen.name} switched off {switched_off_by(by, reason)}",
                      account=chosen.name, change="disabled", reason=reason, by=by)
        return changed

    def enable(self, account: str, *, by: str | None = None) -> bool:
        """Switch ``account`` on again (see ``disable``); returns False when it was
        on. An account with ``enabled = false`` in the config stays off until the
        file says otherwise. Logged as ``enabled`` and as the log event
        ``account_enabled``."""
        chosen = self.account(account)
        changed = self.store.switch(chosen.name, True)
        if changed:
            self._note_action(chosen.name, chosen.provider, "account switched on", "enabled",
                              "", by)
            log_event(log, logging.INFO, "account_enabled",
                      f"account {chosen.name} switched on by {named(by)}",
                      account=chosen.name, change="enabled", reason="", by=by)
        return changed

    def reset_counter(self, account: str, *, by: str | None = None) -> SentToday:
        """Count ``account``'s sent-today from now, as a "Reset counter" button does
        (the provider's day starts at another hour, or it lifted a block): the
        daily cap counts from here until the account's next day begins. Logged
        as ``counter-reset``; returns the counter as it now is."""
        chosen = self.account(account)
        before = self.sent_today(account)
        self.store.reset_counter(chosen.name)
        self._note_action(chosen.name, chosen.provider, "sent-today counter reset",
                          "counter-reset", f"was {before.text}", by)
        return self.sent_today(account)

    def sent_today(self, account: str) -> SentToday:
        """How many ``account`` sent today (its time zone, or since the last reset)
        against its daily cap."""
        return self.status(account)[0].sent_today

    def status(self, account: str | None = None) -> list[AccountStatus]:
        """Every configured account (or ``account``) as an operator sees it: on or
        off and why, mode, sent today against the daily cap, pause, low credit."""
        names = [self.account(account).name] if account else list(self.config.accounts)
        now = self.clock()
        states = self.store.account_states()
        pauses = self.store.pauses(now)
        found = []
        for name in names:
            chosen = self.config.accounts[name]
            state = states.get(name, AccountState())
            since, _ = sent_today_since(chosen, state, now)
            found.append(status_of(chosen, state, pauses.get(name),
                                   self.store.sent_since(name, since), now))
        return found

    def _note_action(self, account: str, provider: str, summary: str, outcome: str, text: str,
                     by: str | None) -> None:
        """Log what an operator (or the engine) did to an account as a whole."""
        if self.config.store.log:
            self.store.append_log([LogEntry(new_message_id(), self.clock(), account, provider,
                                            "-", summary, outcome, 0, text=text,
                                            info={} if by is None else {"by": by})])

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

    def _note(self, outcome: str, text: Callable[[StoredMessage], str],
              by: str | None = None) -> Note:
        if not self.config.store.log:
            return None
        now = self.clock()
        info = {} if by is None else {"by": by}
        return lambda stored: self._entry(stored, now, outcome, text=text(stored), info=info)

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

    def _mailbox(self, account: str) -> MailboxSettings:
        settings = self.account(account).mailbox
        if settings is None:
            raise ConfigError([(f"accounts.{account}.mailbox", "no incoming mailbox: add an "
                                "[accounts.NAME.mailbox] table with host, username and "
                                "password")])
        return settings

    def _open_mailbox(self, settings: MailboxSettings) -> Mailbox:
        try:
            return open_mailbox(settings)
        except MailboxError as failure:
            raise MailboxFailed(explain_mailbox(failure, settings)) from None

    def test_mailbox(self, account: str) -> Diagnosis:
        """Check live that ``account``'s incoming mailbox can be opened: connect, TLS,
        log in, open the folder. Raises ``ConfigError`` if it has no mailbox."""
        settings = self._mailbox(account)
        try:
            with self._open_mailbox(settings) as mailbox:
                facts = dict(mailbox.facts)
        except MailboxFailed as failed:
            return failed.diagnosis
        return Diagnosis.passed("mailbox", f"logged in to {settings.where} as "
                                f"{settings.username} (TLS {facts['tls']})", facts)

    def check_mailbox(self, account: str) -> MailboxReport:
        """Read ``account``'s new incoming mail once: bounces of sent messages go in the
        delivery log as ``bounced`` (recipient, status, reason), and every message in
        the inbox (``inbox``), replies matched to the message they answer.

        The worker calls it on the mailbox's ``check_every``; it may also be
        called at any time (``postroom mailbox check``). Raises ``MailboxFailed``
        (its ``diagnosis`` says what to change) when the mailbox cannot be read,
        ``ConfigError`` when the account has no mailbox.
        """
        settings = self._mailbox(account)
        describe = self._entry if self.config.store.log else None
        with self._open_mailbox(settings) as mailbox:
            try:
                return read_new_mail(mailbox, account, self.store, settings.max_per_check,
                                     self.clock, describe)
            except MailboxError as failure:
                raise MailboxFailed(explain_mailbox(failure, settings)) from None

    def wait_for_mail(self, account: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for new mail in ``account``'s mailbox.

        With IMAP IDLE (``idle = true`` and a server that offers it) this
        returns True as soon as mail arrives; otherwise (POP3, no IDLE) it
        returns False at once, and the caller checks on its schedule.
        Raises ``MailboxFailed`` like ``check_mailbox``.
        """
        settings = self._mailbox(account)
        if not settings.idle or settings.protocol != "imap":
            return False
        with self._open_mailbox(settings) as mailbox:
            try:
                return mailbox.wait(timeout)
            except MailboxError as failure:
                raise MailboxFailed(explain_mailbox(failure, settings)) from None

    def log(self, **filters: object) -> list[LogEntry]:
        """Delivery-log entries, newest first: ``account``, ``outcome``, ``since``
        (epoch seconds), ``recipient`` (substring), ``message_id``, ``batch``,
        ``limit``."""
        return self.store.log(**filters)

    def receive(self, account: str, request: WebhookRequest) -> Answer:
        """Take one webhook call for ``account`` (what ``postroom.webhooks`` does for
        each call to ``/ACCOUNT/...``): the account's plugin checks and reads it,
        delivery reports update the messages and the log, replies go to the
        inbox, STOP and START replies opt the number out or in, then each
        ``on_inbound`` callback gets every event. See ``postroom.receiving``."""
        return receive(self, account, request, self._inbound_callbacks)

    def on_inbound(self, callback: InboundCallback) -> InboundCallback:
        """Call ``callback(arrival)`` for every event a webhook brings, once it is
        recorded (``arrival.kind``: ``report``, ``reply``, ``opt_out``, ``opt_in``).
        Returns ``callback``, so it works as a decorator. An exception in it is
        logged; the call still succeeds, as the event is recorded."""
        self._inbound_callbacks.append(callback)
        return callback

    def inbox(self, *, account: str | None = None, kind: str | None = None,
              channel: str | None = None, since: float | None = None,
              sender: str | None = None, message_id: str | None = None,
              limit: int | None = None) -> list[InboxEntry]:
        """What came in (texts by webhook, mail from checked mailboxes), newest first:
        ``kind`` one of ``reply``, ``bounce``, ``opt_out``, ``opt_in``, ``other``;
        ``since`` epoch seconds; ``sender`` part of the address; ``message_id``
        the sent message it is about."""
        return self.store.inbox(account=account, kind=kind, channel=channel, since=since,
                                sender=sender, message_id=message_id, limit=limit)

    def opted_out(self, account: str, address: str) -> OptOut | None:
        """The opt-out in force for ``address`` on ``account``'s channel, or None."""
        return self.store.opted_out(self.account(account).channel, address)
    def batch(self, batch: str) -> BatchProgress | None:
        """How the bulk send ``batch`` is going: its messages sent, dead, waiting,
        in flight and cancelled, and when the last is expected to go; None for
        a batch id the outbox does not have."""
        found = progress(self.config, self.store, self.clock(), batch)
        return found[0] if found else None

    def batches(self, since: float | None = None) -> list[BatchProgress]:
        """Every bulk send with messages still to go, and those queued since ``since``
        (epoch seconds), oldest first."""
        return progress(self.config, self.store, self.clock(), since=since)

    def health(self) -> HealthReport:
        """Whether anything needs a person: workers alive or stopped, due messages
        nobody takes, long pauses, dead messages, low balances (``[health]``)."""
        return gather(self.config, self.store, self.clock())

    def record_report(self, message_id: str, status: str, *, provider_id: str | None = None,
                      code: str | None = None, text: str = "", cost: Decimal | None = None,
                      currency: str | None = None, info: Mapping[str, str] | None = None
                      ) -> Arrival:
        """Deprecated: a plugin's ``postroom_receive`` reads delivery reports, and
        ``postroom.webhooks`` routes them; this records one by hand the same way.

        ``status`` is the provider's word; ``delivered`` is delivered,
        ``failed``, ``expired``, ``rejected`` and ``undeliverable`` failed, any
        other on its way. Raises ``MessageError`` for a message id the outbox
        does not know.
        """
        warnings.warn("Engine.record_report is deprecated: implement postroom_receive and "
                      "serve postroom.webhooks, or call Engine.receive", DeprecationWarning,
                      stacklevel=2)
        stored = self.store.find(message_id)
        if stored is None:
            raise MessageError("message_id", f"no message {message_id!r} in the outbox; the "
                                             "report may be for another postroom or too old")
        word = status.lower()
        state = ("delivered" if word == "delivered" else "failed"
                 if word in ("failed", "expired", "rejected", "undeliverable") else "pending")
        report = DeliveryReport(state=state, message_id=message_id, provider_id=provider_id,
                                status=status, code=code, reason=text, cost=cost,
                                currency=currency, info=dict(info or {}))
        return take_report(self, self.account(stored.account), report, self.clock())

    def clear_log(self, before: datetime | None = None, *, by: str | None = None) -> int:
        """Delete the delivery log, or the part older than ``before``; return how many
        entries went. Given ``by`` (who asked), the log keeps one entry,
        outcome ``cleared``, saying who cleared what."""
        count = self.store.clear_log(None if before is None else before.timestamp())
        if by is not None:
            what = "everything" if before is None else f"entries before {before.isoformat()}"
            self._note_action("-", "-", "delivery log cleared", "cleared",
                              f"{count} deleted: {what}", by)
        return count

    def prune(self, before: datetime, *, by: str | None = None) -> int:
        """Delete from the outbox the messages finished before ``before``: sent,
        failed for good or cancelled. Return how many went.

        The delivery log keeps its entries about them (``clear_log`` deletes
        those) and, when it deleted any, one entry, outcome ``pruned``, saying how
        many and, given ``by``, who asked. Nothing queued or in flight is touched.
        What goes with a message: its idempotency key (a send repeating it queues
        a new message), a dead one's retry, and the match of a report, bounce or
        reply that comes after. ``before`` must be at least a week back (more if an
        account's ``min_gap`` or ``stagger`` is longer); raises ``MessageError``
        otherwise.
        """
        keeps = max([PRUNE_KEEPS, *(max(account.schedule.min_gap, account.schedule.stagger)
                                    for account in self.config.accounts.values())])
        if before.timestamp() > self.clock() - keeps:
            days = math.ceil(keeps / 86400)
            raise MessageError("before", f"{before.isoformat()} is less than {days} days ago; "
                                         f"the outbox keeps the last {days} days, which late "
                                         "delivery reports and bounces and the accounts' "
                                         "limits look back on: give a time at least "
                                         f"{days} days back, such as {max(days, 90)}d")
        count = self.store.prune(before.timestamp())
        if count:
            self._note_action("-", "-", "outbox pruned", "pruned",
                              f"{count} finished messages deleted: those finished before "
                              f"{before.isoformat()}", by)
        return count

    def standby(self, route: str, *, instead_of: str | None = None,
                pauses: Mapping[str, object] | None = None) -> str | None:
        """The first account of ``route``'s group that is not paused (and is not
        ``instead_of``, the account that just failed): where a message goes."""
        pauses = self.store.pauses(self.clock()) if pauses is None else pauses
        # An account whose settings are broken takes nothing over, as a paused one.
        return standby(self.config.channels, route, {*pauses, *self.config.broken}, instead_of)

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
