"""The account balance, read from the API and set against ``low_balance``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import attrs

from postroom.results import Credits, Outcome
from postroom_nexmo.client import ApiError, NexmoClient

UNIT = "EUR"


def read_credits(client: NexmoClient) -> Credits:
    """Ask for the balance; raises ``ApiError`` when it cannot be read."""
    reply = client.balance()
    try:
        value = Decimal(str(reply["value"]))
    except (KeyError, InvalidOperation):
        raise ApiError(Outcome.TRANSIENT, None, "api", "bad-response",
                       f"{client.host} answered the balance request without a value",
                       "check that base_url is the REST host") from None
    auto_reload = reply.get("autoReload")
    low = client.config.low_balance
    credits = Credits(value, UNIT, None if low is None else Decimal(str(low)),
                      auto_reload if isinstance(auto_reload, bool) else None)
    return attrs.evolve(credits, detail=describe(credits))


def describe(credits: Credits) -> str:
    """One line on the balance, with a warning when it is below the threshold."""
    text = f"{credits.balance} {credits.unit}"
    if credits.auto_reload is not None:
        text += f", auto-reload {'on' if credits.auto_reload else 'off'}"
    if credits.is_low:
        text += (f"; below low_balance ({credits.low_threshold} {credits.unit}): top up soon, "
                 "or sending stops when it runs out")
    return text
