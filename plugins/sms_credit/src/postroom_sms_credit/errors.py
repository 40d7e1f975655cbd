"""``GatewayError``: a call to the gateway that got no usable answer, and what it means."""

from __future__ import annotations

from attrs import frozen

from postroom.http import HttpError


@frozen
class GatewayError(HttpError):
    """What went wrong with one call, worded for the admin.

    The fields of ``postroom.http.HttpError`` (``outcome``, ``stage``,
    ``category``, ``text``, ``hint``, ``retry_after``; ``maybe_processed``
    marks failures after which the gateway may have taken the request
    anyway, so it is resubmitted under the same deduplication id), and two of
    the gateway's own: ``splittable`` marks a request the gateway refused for
    its content (HTTP 400), where sending the messages in smaller groups
    finds the one at fault; ``batch_wide`` marks refusals that every further
    request would meet too (credentials, credit, limits).
    """

    splittable: bool = False
    batch_wide: bool = True
