"""The ``sms_credit`` account settings, checked as they are read.

::

    [accounts.texts]
    provider = "sms_credit"
    token_id = "6A8F1C0D2E..."
    token_secret = { env = "SMS_TOKEN_SECRET" }
    sender = "Riverside"
    low_credit_threshold = 100
    preflight = "hold"
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from attrs import field, frozen

from postroom.addresses import phone_number
from postroom.messages import Channel, SmsMessage
from postroom.secrets import Secret
from postroom.settings import (
    InvalidSetting,
    PositiveInt,
    ProviderConfig,
    Region,
    Seconds,
    at_most,
)
from postroom_sms_credit.estimate import credits_needed

PROVIDER = "sms_credit"
DEFAULT_BASE_URL = "https://api.bulksms.com/v1"

Preflight = Literal["refuse", "hold", "off"]
"""What the engine does with a send whose estimated credits exceed the balance."""

# The API takes up to 30 000 messages in one POST; one failed POST fails them all.
MAX_CHUNK = 30_000
# A concatenated SMS numbers its parts in one byte of its header.
MAX_PARTS = 255
MAX_RESUBMITS = 5
ALPHANUMERIC_MAX = 11
SHORT_CODE_MAX = 6  # digits; longer all-digit senders are phone numbers

_SPACING = re.compile(r"[\s().-]")
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9 ]+")


def sender_address(value: str, region: str | None = None) -> str:
    """Normalise a sender to what the gateway takes as ``from``.

    A phone number becomes E.164 (a local one is read with ``region``); up to
    six digits are a short code; anything else is an alphanumeric sender id of
    at most 11 letters, digits and spaces. Raises ``ValueError`` saying what
    is wrong.
    """
    compact = _SPACING.sub("", value)
    digits = compact.removeprefix("+")
    if digits.isdigit():
        if compact == digits and len(digits) <= SHORT_CODE_MAX:
            return digits
        if compact == digits and not digits.startswith("0"):
            compact = "+" + digits  # an international number written without its "+"
        return phone_number(compact, region)
    if not _ALPHANUMERIC.fullmatch(value):
        raise ValueError(f"{value!r} is neither a phone number nor a sender id: a sender id "
                         "uses only letters A-Z, digits and spaces")
    if len(value) > ALPHANUMERIC_MAX:
        raise ValueError(f"{value!r} has {len(value)} characters; a sender id has at most "
                         f"{ALPHANUMERIC_MAX}")
    return value


def _base_url(value: str) -> str:
    url = urlsplit(value)
    if url.username is not None or url.password is not None:
        # Never echo the value: the password is in it.
        raise InvalidSetting("base_url", "expected an address without a user or password "
                                         "(user:password@): put the credentials in token_id and "
                                         "token_secret (or username and password)")
    if url.scheme not in ("https", "http") or not url.hostname:
        got = "" if "@" in value else f", got {value!r}"
        raise InvalidSetting("base_url", f"expected the API's root address such as "
                                         f"{DEFAULT_BASE_URL!r}{got}")
    return value.rstrip("/")


def _not_negative(instance, attribute, value) -> None:
    if value < 0:
        raise InvalidSetting(attribute.name, f"expected 0 or more, got {value}")


def _above_zero(instance, attribute, value) -> None:
    if value <= 0:
        raise InvalidSetting(attribute.name, f"expected a number above 0, got {value}")


@frozen(kw_only=True)
class SmsCreditConfig(ProviderConfig):
    """One prepaid-credit gateway account, as the ``sms_credit`` provider uses it.

    - ``base_url``: the API root (BulkSMS's by default; any compatible gateway).
    - ``username`` + ``password``, or ``token_id`` + ``token_secret``: the
      HTTP Basic credentials; exactly one pair.
    - ``sender``: the ``from`` of each message; unset, the gateway's default.
    - ``low_credit_threshold``: credits below which ``test`` and ``credits`` warn.
    - ``max_parts``: the most SMS parts one message may take; longer ones are
      refused before sending. Unset, any length goes.
    - ``credits_per_segment``: what one SMS part costs on this account's
      route, for the pre-flight estimate (1 on most routes).
    - ``preflight``: what the engine does with a send the balance does not
      cover: ``"refuse"`` it, ``"hold"`` it until there is credit, or
      ``"off"`` (send, and let the gateway refuse what it cannot charge).
    - ``chunk_size``: messages per POST; ``resubmits``: how often a POST
      whose answer was lost is sent again (under the same deduplication id).
    - ``webhook_secret``: a secret of your own that the gateway's webhook
      address carries (``?token=`` or ``user:secret@``), since the gateway
      signs nothing; without it, webhook calls are refused.
    - ``timeout``: seconds for each network step; ``ca_bundle``: PEM file of
      CAs to trust instead of the CA bundle requests ships (certifi).
    - ``region``: not a setting of its own, the account's ``region``: it
      reads a sender number written without its country code.
    """

    provider: ClassVar[str] = PROVIDER
    channel: ClassVar[Channel] = "sms"

    base_url: str = field(default=DEFAULT_BASE_URL, converter=_base_url)
    username: str | None = None
    password: Secret | None = None
    token_id: str | None = None
    token_secret: Secret | None = None
    sender: str | None = None
    low_credit_threshold: Decimal = field(default=Decimal(100), validator=_not_negative)
    max_parts: PositiveInt | None = field(default=None, validator=at_most(MAX_PARTS))
    credits_per_segment: Decimal = field(default=Decimal(1), validator=_above_zero)
    preflight: Preflight = "refuse"
    chunk_size: PositiveInt = field(default=100, validator=at_most(MAX_CHUNK))
    resubmits: int = field(default=1, validator=[_not_negative, at_most(MAX_RESUBMITS)])
    timeout: Seconds = 10.0
    ca_bundle: Path | None = None
    webhook_secret: Secret | None = None
    region: Region | None = None

    def __attrs_post_init__(self) -> None:
        self._check_credentials()
        if self.sender is not None:
            try:
                object.__setattr__(self, "sender", sender_address(self.sender, self.region))
            except ValueError as exc:
                raise InvalidSetting("sender", str(exc)) from None

    def _check_credentials(self) -> None:
        pairs = {"username": ("username", "password"), "token_id": ("token_id", "token_secret")}
        given = {key: [name for name in names if getattr(self, name) is not None]
                 for key, names in pairs.items()}
        for key, names in pairs.items():
            if len(given[key]) == 1:
                missing = next(n for n in names if n not in given[key])
                raise InvalidSetting(missing, f"required with {given[key][0]}: give both")
        if all(given.values()):
            raise InvalidSetting("token_id", "give username/password or token_id/token_secret, "
                                             "not both")
        if not any(given.values()):
            raise InvalidSetting("token_id", "no credentials: give token_id and token_secret "
                                             "(an API token) or username and password")

    @property
    def login(self) -> str:
        """Who the account logs in as, safe to show: ``token 6A8F...`` or ``user ann``."""
        return f"token {self.token_id}" if self.token_id else f"user {self.username}"

    def basic_auth(self) -> tuple[str, str]:
        """The HTTP Basic user and password; for the request, never for a log."""
        # Exactly one pair is complete: the check made when the config was read.
        if self.token_id is not None:
            return self.token_id, self.token_secret.reveal()
        return self.username, self.password.reveal()

    def secrets(self) -> list[str]:
        """The secret values, for scrubbing texts the gateway sends back."""
        return [s.reveal() for s in (self.password, self.token_secret, self.webhook_secret) if s]

    def credits_needed(self, messages: Iterable[SmsMessage]) -> Decimal:
        """The credits ``messages`` will take: their SMS parts times ``credits_per_segment``.

        The engine's pre-flight check sets this against the balance the
        ``credits`` hook reports, and ``preflight`` says what to do when short.
        """
        return credits_needed(messages, self.credits_per_segment)
