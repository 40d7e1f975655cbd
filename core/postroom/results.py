"""What the hooks return: problems, diagnoses, send results and credit balances.

These small frozen classes are the vocabulary between the engine and every
provider plugin; a plugin builds them with the named constructors
(``SendResult.accepted(...)``, ``Diagnosis.failed(...)``) rather than by hand.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Literal

from attrs import field, frozen

Severity = Literal["error", "warning"]


@frozen
class Problem:
    """Something ``validate`` found wrong without going online.

    ``field`` is the setting's path relative to the account (``port``,
    ``pop3.host``); the engine places it under ``accounts.NAME``. ``hint``
    tells the admin what to change.
    """

    severity: Severity
    field: str
    message: str
    hint: str = ""

    @classmethod
    def error(cls, field: str, message: str, hint: str = "") -> Problem:
        return cls("error", field, message, hint)

    @classmethod
    def warning(cls, field: str, message: str, hint: str = "") -> Problem:
        return cls("warning", field, message, hint)


@frozen
class Diagnosis:
    """The answer of a live ``test``: did it work, and if not, where and why.

    ``stage`` is the step that failed or the last one reached: ``config``,
    ``dns``, ``connect``, ``tls``, ``auth``, ``pop3``, ``api``, ``send`` ...
    ``category`` is a short stable key scripts can match on
    (``host-not-found``, ``auth-failed``); ``detail`` says what happened,
    ``hint`` what the admin should change. ``facts`` carries what the check
    learned (server banner, TLS version, remaining credit, message id).
    """

    ok: bool
    stage: str
    category: str
    detail: str
    hint: str = ""
    facts: dict[str, str] = field(factory=dict)

    @classmethod
    def passed(cls, stage: str, detail: str, facts: dict[str, str] | None = None) -> Diagnosis:
        return cls(True, stage, "ok", detail, "", dict(facts or {}))

    @classmethod
    def failed(
        cls,
        stage: str,
        category: str,
        detail: str,
        hint: str,
        facts: dict[str, str] | None = None,
    ) -> Diagnosis:
        return cls(False, stage, category, detail, hint, dict(facts or {}))


class Outcome(enum.Enum):
    """How a provider answered one message.

    - ``ACCEPTED``: the provider took it; it is theirs to deliver now.
    - ``TRANSIENT``: try again later (4xx, connection lost, timeout).
    - ``THROTTLED``: the provider asks us to slow down; retry without
      counting it as a failed try.
    - ``ACCOUNT_STOPPED``: the account cannot send anything until someone acts
      or time passes (out of credit, daily quota used up); the message stays
      queued and the account is paused.
    - ``UNREACHABLE``: the provider could not be reached before the message
      was handed over (DNS, a refused connection, TLS, the login); nothing was
      sent. The account pauses as a whole, with backoff and one probe at a
      time; the message keeps its tries and its due time.
    - ``PERMANENT``: it will never go as it is (bad address, 5xx); not retried.
    """

    ACCEPTED = "accepted"
    TRANSIENT = "transient"
    THROTTLED = "throttled"
    ACCOUNT_STOPPED = "account_stopped"
    UNREACHABLE = "unreachable"
    PERMANENT = "permanent"

    @property
    def retryable(self) -> bool:
        return self in (Outcome.TRANSIENT, Outcome.THROTTLED, Outcome.ACCOUNT_STOPPED,
                        Outcome.UNREACHABLE)

    @property
    def pauses_account(self) -> bool:
        """Whether this answer is about the account rather than the message."""
        return self in (Outcome.THROTTLED, Outcome.ACCOUNT_STOPPED, Outcome.UNREACHABLE)


@frozen
class SendResult:
    """The provider's answer for one message of a ``send`` batch.

    ``message_id`` is postroom's id for the message (``message.id``);
    ``provider_id`` the id the provider gave it, if any. ``code`` and ``text``
    carry the provider's own status (``"550"``, ``"5.1.1 no such user"``).
    ``refused`` maps recipients the provider refused while accepting the rest
    to their reason. ``cost`` is what the provider charged, in ``currency``.
    ``retry_after`` (seconds) is the provider's own hint for when to try again.
    ``info`` holds further facts worth logging (remaining balance, parts).
    """

    message_id: str
    outcome: Outcome
    provider_id: str | None = None
    code: str | None = None
    text: str = ""
    cost: Decimal | None = None
    currency: str | None = None
    refused: dict[str, str] = field(factory=dict)
    retry_after: float | None = None
    info: dict[str, str] = field(factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED

    @classmethod
    def accepted(cls, message_id: str, provider_id: str | None = None, **kw) -> SendResult:
        return cls(message_id, Outcome.ACCEPTED, provider_id, **kw)

    @classmethod
    def transient(cls, message_id: str, code: str | None, text: str, **kw) -> SendResult:
        return cls(message_id, Outcome.TRANSIENT, code=code, text=text, **kw)

    @classmethod
    def throttled(cls, message_id: str, code: str | None, text: str, **kw) -> SendResult:
        return cls(message_id, Outcome.THROTTLED, code=code, text=text, **kw)

    @classmethod
    def account_stopped(cls, message_id: str, code: str | None, text: str, **kw) -> SendResult:
        return cls(message_id, Outcome.ACCOUNT_STOPPED, code=code, text=text, **kw)

    @classmethod
    def unreachable(cls, message_id: str, code: str | None, text: str, **kw) -> SendResult:
        """The provider could not be reached before this message was handed over."""
        return cls(message_id, Outcome.UNREACHABLE, code=code, text=text, **kw)

    @classmethod
    def permanent(cls, message_id: str, code: str | None, text: str, **kw) -> SendResult:
        return cls(message_id, Outcome.PERMANENT, code=code, text=text, **kw)

    @classmethod
    def failed(cls, outcome: Outcome, message_id: str, code: str | None, text: str,
               **kw) -> SendResult:
        """A result of any outcome but ``accepted``, for an error that carries its outcome."""
        if outcome is Outcome.ACCEPTED:
            raise ValueError("an accepted message is SendResult.accepted(...)")
        return cls(message_id, outcome, code=code, text=text, **kw)


@frozen
class Credits:
    """A provider's balance: ``balance`` in ``unit`` (``EUR``, ``credits``).

    ``low_threshold`` is the configured warning level; ``auto_reload`` whether
    the provider tops the account up by itself (None when unknown).
    """

    balance: Decimal
    unit: str
    low_threshold: Decimal | None = None
    auto_reload: bool | None = None
    detail: str = ""

    @property
    def is_low(self) -> bool:
        return self.low_threshold is not None and self.balance < self.low_threshold
