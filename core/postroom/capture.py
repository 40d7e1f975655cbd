"""Test mode for apps: engines that capture messages instead of sending them.

While a ``Capture`` is active (the pytest plugin and the Django integration
turn it on for a test run), every ``Engine`` made in the process:

- keeps its accounts, schedules, templates and events, but each account's
  provider is replaced by one that records what it is given and answers
  "accepted": nothing leaves the machine;
- keeps its outbox in the capture's own folder, never the configured one;
- reads the configuration with every secret it cannot resolve (an
  environment variable that is not set, a missing file) as a placeholder,
  since a test run has no production secrets.

``Capture.outbox`` records every message handed to an engine (``queued``,
when ``send`` or ``notify`` put it in the outbox), every message the worker
passed to a provider (``delivered``) and every template rendered
(``rendered``), so tests assert on them as they would on Django's
``mail.outbox``.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from attrs import define, evolve, field, frozen

from postroom.hookspecs import hookimpl
from postroom.messages import EmailMessage, Message, SmsMessage
from postroom.results import Diagnosis, Problem, SendResult
from postroom.settings import ProviderConfig
from postroom.store import NewMessage, SQLiteStore, Store
from postroom.templating import Rendered

if TYPE_CHECKING:
    from postroom.config import Config
    from postroom.plugins import PluginRegistry

PLACEHOLDER = "postroom-test-placeholder"
"""What an unresolvable secret reads as in test mode."""
PLUGIN_NAME = "postroom-capture"


@frozen
class Captured:
    """A message an app handed to postroom in test mode, and the account it went to."""

    account: str
    message: Message

    @property
    def channel(self) -> str:
        return self.message.channel

    @property
    def to(self) -> list[str]:
        """Every recipient: addresses (to, cc, bcc) or the phone number."""
        return self.message.recipients

    @property
    def body(self) -> str:
        """All the text a person reads: subject, text and html (or the SMS text)."""
        message = self.message
        if isinstance(message, SmsMessage):
            return message.text
        return "\n".join(p for p in (message.subject, message.text, message.html) if p)

    def matches(self, *, account: str | None = None, to: str | None = None,
                channel: str | None = None, subject: str | None = None,
                contains: str | None = None) -> bool:
        """Whether this message fits every criterion given (``to``: one of its
        recipients, compared without case; ``contains``: text in ``body``)."""
        subject_now = getattr(self.message, "subject", None)
        return ((account is None or self.account == account)
                and (channel is None or self.channel == channel)
                and (to is None or to.lower() in (r.lower() for r in self.to))
                and (subject is None or subject_now == subject)
                and (contains is None or contains in self.body))

    def describe(self) -> str:
        """One line for an assertion's failure message."""
        about = getattr(self.message, "subject", None) or self.message.summary
        return f"{self.account} ({self.channel}) to {', '.join(self.to)}: {about!r}"


def _expected(found: list, count: int | None, what: str, pool: list[str]) -> list:
    if (count is None and found) or (count is not None and len(found) == count):
        return found
    expected = "at least one" if count is None else str(count)
    listing = "".join(f"\n  {line}" for line in pool) or " nothing"
    raise AssertionError(f"expected {expected} {what}, found {len(found)}; captured in this "
                         f"test:{listing}")


class Outbox:
    """What apps handed to postroom during a test; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.queued: list[Captured] = []
        self.delivered: list[Captured] = []
        self.rendered: list[Rendered] = []
        self._seen: set[str] = set()

    def record_queued(self, items: Sequence[NewMessage], ids: Sequence[str]) -> None:
        with self._lock:
            for item, message_id in zip(items, ids, strict=True):
                # A repeated idempotency key returns the first message's id: not new.
                if message_id == item.message.id and message_id not in self._seen:
                    self._seen.add(message_id)
                    self.queued.append(Captured(item.account, item.message))

    def record_delivered(self, account: str, messages: Sequence[Message]) -> None:
        with self._lock:
            self.delivered.extend(Captured(account, m) for m in messages)

    def record_rendered(self, rendered: Rendered) -> None:
        with self._lock:
            self.rendered.append(rendered)

    def find(self, *, delivered: bool = False, **criteria: str | None) -> list[Captured]:
        """The messages queued (or with ``delivered``, delivered) that fit
        ``criteria``: ``account``, ``to``, ``channel``, ``subject``, ``contains``."""
        with self._lock:
            pool = list(self.delivered if delivered else self.queued)
        return [item for item in pool if item.matches(**criteria)]

    def templates(self, template: str | None = None, to: str | None = None) -> list[Rendered]:
        """Templates rendered, optionally only ``template`` and for recipient ``to``."""
        with self._lock:
            pool = list(self.rendered)
        return [r for r in pool if (template is None or r.template == template)
                and (to is None or (r.recipient is not None and r.recipient.to is not None
                                    and r.recipient.to.lower() == to.lower()))]

    def expect(self, *, count: int | None = None, delivered: bool = False,
               **criteria: str | None) -> list[Captured]:
        """``find``, raising ``AssertionError`` (listing what was captured) when
        nothing fits, or not exactly ``count`` messages."""
        found = self.find(delivered=delivered, **criteria)
        wanted = ", ".join(f"{key}={value!r}" for key, value in criteria.items()
                           if value is not None)
        what = (f"message{'s' if count not in (None, 1) else ''} "
                f"{'delivered' if delivered else 'sent'}" + (f" with {wanted}" if wanted else ""))
        pool = self.delivered if delivered else self.queued
        return _expected(found, count, what, [item.describe() for item in list(pool)])

    def expect_rendered(self, template: str | None = None, *, to: str | None = None,
                        count: int | None = None) -> list[Rendered]:
        """``templates``, raising ``AssertionError`` as ``expect`` does."""
        found = self.templates(template, to)
        pool = [f"{r.template} ({r.channel}, locale {r.locale or 'base'}) for "
                f"{r.recipient.to if r.recipient else '?'}" for r in list(self.rendered)]
        what = f"renderings of {template or 'any template'}" + (f" for {to}" if to else "")
        return _expected(found, count, what, pool)

    def clear(self) -> None:
        with self._lock:
            self.queued.clear()
            self.delivered.clear()
            self.rendered.clear()


@define
class _CapturedAccount:
    """Fields every capturing config has: whose messages it records, and where."""

    account: str
    replaces: str
    outbox: Outbox = field(repr=False, eq=False)


@define
class CapturedEmail(_CapturedAccount, ProviderConfig):
    """Stands in for an email account's provider in test mode."""

    provider: ClassVar[str] = "capture"
    channel: ClassVar[str] = "email"


@define
class CapturedSms(_CapturedAccount, ProviderConfig):
    """Stands in for an SMS account's provider in test mode."""

    provider: ClassVar[str] = "capture"
    channel: ClassVar[str] = "sms"


class CapturingPlugin:
    """The hooks answering for captured accounts: record, accept, never connect."""

    @hookimpl
    def postroom_validate(self, config: object) -> list[Problem] | None:
        return [] if isinstance(config, _CapturedAccount) else None

    @hookimpl
    def postroom_test(self, config: object, target: str | None) -> Diagnosis | None:
        if not isinstance(config, _CapturedAccount):
            return None
        return Diagnosis.passed("capture", f"test mode: {config.replaces} is not contacted; "
                                          "messages are captured")

    @hookimpl
    def postroom_send(self, config: object,
                      messages: Sequence[EmailMessage | SmsMessage]) -> list[SendResult] | None:
        if not isinstance(config, _CapturedAccount):
            return None
        config.outbox.record_delivered(config.account, messages)
        return [SendResult.accepted(m.id, f"captured-{m.id}") for m in messages]

    @hookimpl
    def postroom_credits(self, config: object) -> None:
        return None


class CapturingStore:
    """A store that also records, in the outbox, every message put in it.

    ``renew`` moves it to a fresh, empty file: each test starts with an empty
    outbox, even for an engine the app made once at import.
    """

    def __init__(self, path: Path, outbox: Outbox, clock: Callable[[], float]) -> None:
        self._outbox = outbox
        self._clock = clock
        self._store: Store = SQLiteStore(path, "normal", clock)

    def renew(self, path: Path) -> None:
        old, self._store = self._store, SQLiteStore(path, "normal", self._clock)
        old.close()

    def enqueue(self, items: Sequence[NewMessage], *args, **kwargs) -> list[str]:
        ids = self._store.enqueue(items, *args, **kwargs)
        self._outbox.record_queued(items, ids)
        return ids

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def _lenient(value: object, base_dir: Path, environ: Mapping[str, str]) -> object:
    if isinstance(value, Mapping):
        if len(value) == 1:
            (kind, where), = value.items()
            if kind == "env" and isinstance(where, str) and where not in environ:
                return PLACEHOLDER
            if kind == "file" and isinstance(where, str) and not (base_dir / where).is_file():
                return PLACEHOLDER
        return {key: _lenient(item, base_dir, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [_lenient(item, base_dir, environ) for item in value]
    return value


class Capture:
    """One test run's capture: its outbox, and the folder its engines' stores live in."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.outbox = Outbox()
        self._plugin = CapturingPlugin()
        self._stores: weakref.WeakSet[CapturingStore] = weakref.WeakSet()
        self._round = 0

    @property
    def store_path(self) -> Path:
        """The outbox file of this round (see ``reset``)."""
        return self.directory / f"postroom-test-{self._round}.db"

    def reset(self) -> None:
        """Start afresh, as for a new test: an empty outbox record, and every
        engine's store moved to a new, empty file."""
        self.outbox.clear()
        previous = self.store_path
        self._round += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        for store in list(self._stores):
            store.renew(self.store_path)
        for leftover in self.directory.glob(previous.name + "*"):
            leftover.unlink(missing_ok=True)

    def lenient(self, data: Mapping[str, object], base_dir: Path | None,
                environ: Mapping[str, str] | None) -> dict:
        """``data`` with each secret that cannot be resolved read as a placeholder."""
        chosen = os.environ if environ is None else environ
        return _lenient(data, base_dir or Path.cwd(), chosen)  # type: ignore[return-value]

    def adopt(self, config: Config, registry: PluginRegistry,
              clock: Callable[[], float]) -> tuple[Config, PluginRegistry, Store]:
        """The engine's config with capturing providers, and a store of this capture's own."""
        if not registry.pm.has_plugin(PLUGIN_NAME):
            registry.register(self._plugin, [], name=PLUGIN_NAME, distribution="postroom")
        accounts = {}
        for name, account in config.accounts.items():
            kind = CapturedSms if account.channel == "sms" else CapturedEmail
            accounts[name] = evolve(account, config=kind(name, account.provider, self.outbox))
        self.directory.mkdir(parents=True, exist_ok=True)
        settings = evolve(config.store, path=self.store_path, durability="normal")
        store = CapturingStore(self.store_path, self.outbox, clock)
        self._stores.add(store)
        return evolve(config, accounts=accounts, store=settings), registry, store


_active: Capture | None = None
_active_lock = threading.Lock()


def activate(capture: Capture) -> None:
    """Turn test mode on for this process: engines made from now on capture."""
    global _active
    with _active_lock:
        _active = capture


def deactivate(capture: Capture | None = None) -> None:
    """Turn test mode off (only if ``capture``, when given, is the active one)."""
    global _active
    with _active_lock:
        if capture is None or _active is capture:
            _active = None


def current() -> Capture | None:
    """The active capture, or None outside test mode."""
    return _active


__all__ = ["Capture", "Captured", "Outbox", "activate", "current", "deactivate"]
