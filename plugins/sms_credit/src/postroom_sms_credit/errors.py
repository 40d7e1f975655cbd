"""``GatewayError``: a call to the gateway that got no usable answer, and what it means."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from attrs import frozen

from postroom.results import Outcome


@frozen
class GatewayError(Exception):
    """What went wrong with one call, worded for the admin.

    ``outcome`` is what the messages of the call should do (wait, retry, stop
    the account, give up); ``stage`` and ``category`` place it for a
    diagnosis (``tls``, ``tls-untrusted``); ``text`` says what happened and
    ``hint`` what to change. ``maybe_processed`` marks failures after which
    the gateway may have taken the request anyway, so it is resubmitted
    under the same deduplication id; ``splittable`` marks a request the
    gateway refused for its content (HTTP 400), where sending the messages
    in smaller groups finds the one at fault. ``batch_wide`` marks refusals
    that every further request would meet too (credentials, credit, limits).
    """

    outcome: Outcome
    code: str | None
    stage: str
    category: str
    text: str
    hint: str = ""
    retry_after: float | None = None
    maybe_processed: bool = False
    splittable: bool = False
    batch_wide: bool = True

    def __str__(self) -> str:
        return self.text


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with each secret, as written or URL-encoded, replaced by ``***``."""
    for secret in filter(None, secrets):
        for form in (secret, quote(secret, safe=""), quote_plus(secret)):
            text = text.replace(form, "***")
    return text
