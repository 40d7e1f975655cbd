"""The ``nexmo`` account settings and the checks made when they are read.

::

    [accounts.texts]
    provider = "nexmo"
    api_key = "a1b2c3d4"
    api_secret = { env = "NEXMO_API_SECRET" }
    sender = "Riverside"            # or a number: "+447700900123"
    rate_per_second = 30            # the account's API request limit
    low_balance = 5.0               # warn below 5 EUR
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from attrs import field, frozen

from postroom.addresses import phone_number
from postroom.messages import Channel
from postroom.secrets import Secret
from postroom.settings import (
    InvalidSetting,
    PerSecond,
    PositiveInt,
    ProviderConfig,
    Region,
    Seconds,
    at_most,
)

PROVIDER = "nexmo"
DEFAULT_BASE_URL = "https://rest.nexmo.com"
CURRENCY = "EUR"  # the API prices messages and keeps balances in euros

# Vonage limits every API key to 30 requests per second unless the account
# manager raised it; each part of a long message does not count on its own.
DEFAULT_RATE_PER_SECOND = 30.0
MAX_CONNECTIONS = 64
"""Most requests a batch may have in flight at once (``connections``)."""

SignatureMethod = Literal["md5hash", "md5", "sha1", "sha256", "sha512"]
"""``md5hash`` appends the secret and hashes; the others are HMACs keyed by it."""

ALPHANUMERIC_SENDER_MAX = 11  # the GSM limit on an alphanumeric originator
NUMBER_SENDER_MAX = 15  # digits in an E.164 number

_SEPARATORS = re.compile(r"[\s().-]")
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9 ]+")


def normalise_sender(value: str, region: str | None = None) -> str:
    """The ``from`` the API wants: a number in international form without ``+``,
    a short code, or an alphanumeric sender id of at most 11 letters, digits
    and spaces. Raises ``ValueError`` saying what is wrong.
    """
    bare = _SEPARATORS.sub("", value)
    digits = bare.removeprefix("+")
    if digits.isdigit():
        if bare.startswith("+"):
            return phone_number(value).removeprefix("+")
        if digits.startswith("0"):
            # A local number: only the region tells which country it is in.
            if region is None:
                raise ValueError(f"{value!r} looks like a local number; write it with its "
                                 "country code (+44...) or set the account's region")
            return phone_number(value, region).removeprefix("+")
        if len(digits) > NUMBER_SENDER_MAX:
            raise ValueError(f"{value!r} has {len(digits)} digits; a sender number has at "
                             f"most {NUMBER_SENDER_MAX}")
        return digits
    if not _ALPHANUMERIC.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid sender id: use only letters A-Z, digits "
                         "and spaces, or a phone number")
    if len(value) > ALPHANUMERIC_SENDER_MAX:
        raise ValueError(f"{value!r} is {len(value)} characters long; an alphanumeric sender "
                         f"id has at most {ALPHANUMERIC_SENDER_MAX}")
    return value


def _not_negative(instance, attribute, value) -> None:
    if value is not None and value < 0:
        raise InvalidSetting(attribute.name, f"expected 0 or more, got {value}")


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        # Never echo the value: the password is in it.
        raise InvalidSetting("base_url", "expected an address without a user or password "
                             "(user:password@): put the credentials in api_key and api_secret")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        got = "" if "@" in value else f", got {value!r}"
        raise InvalidSetting("base_url", f"expected an https:// address such as "
                             f"{DEFAULT_BASE_URL!r}{got}")
    return value.rstrip("/")


@frozen(kw_only=True)
class NexmoConfig(ProviderConfig):
    """One Nexmo/Vonage account, as the ``nexmo`` provider sends through it.

    - ``api_key``, ``api_secret``: the dashboard's API credentials.
    - ``sender``: the ``from`` of each message, a number or an alphanumeric id.
    - ``signature_secret``, ``signature_method``: sign requests instead of
      sending the API secret (and check signed delivery receipts).
    - ``base_url``: the REST host; tests point it at a local server.
    - ``timeout``: seconds to wait for each network step.
    - ``rate_per_second``: the account's request limit. It reaches postroom's
      store through ``limits()`` as ``per_second``, kept across every worker.
    - ``connections``: requests a batch may have in flight at once.
    - ``low_balance``: EUR below which ``test`` and ``credits`` warn.
    - ``ca_bundle``: a PEM file of the CAs to trust instead of the CA bundle
      requests ships (certifi).
    - ``receipt_url``: where the API should send delivery receipts (the
      webhook app's ``/ACCOUNT/`` address).
    - ``webhook_secret``: for webhooks that are not signed (no
      ``signature_secret``): a secret of your own in the webhook address.
    - ``region``: not a setting of its own: the account's ``region``, which
      reads a sender number written without its country code.
    """

    provider: ClassVar[str] = PROVIDER
    channel: ClassVar[Channel] = "sms"

    api_key: str
    api_secret: Secret
    sender: str
    signature_secret: Secret | None = None
    signature_method: SignatureMethod | None = None
    base_url: str = field(default=DEFAULT_BASE_URL, converter=_base_url)
    timeout: Seconds = 10.0
    rate_per_second: PerSecond = DEFAULT_RATE_PER_SECOND
    # Each is a pooled connection and a thread: a few dozen is already a lot.
    connections: PositiveInt = field(default=4, validator=at_most(MAX_CONNECTIONS))
    low_balance: float | None = field(default=None, validator=_not_negative)
    ca_bundle: Path | None = None
    receipt_url: str | None = None
    webhook_secret: Secret | None = None
    region: Region | None = None

    def __attrs_post_init__(self) -> None:
        try:
            sender = normalise_sender(self.sender, self.region)
        except ValueError as exc:
            raise InvalidSetting("sender", str(exc)) from None
        object.__setattr__(self, "sender", sender)

    def limits(self) -> Mapping[str, object]:
        """The request limit, which the store keeps for all workers together.

        A lower ``[accounts.NAME.schedule]`` ``per_second`` of the account wins.
        """
        return {"per_second": self.rate_per_second}

    @property
    def method(self) -> SignatureMethod:
        """The signature method in force: the dashboard's default is ``md5hash``."""
        return self.signature_method or "md5hash"
