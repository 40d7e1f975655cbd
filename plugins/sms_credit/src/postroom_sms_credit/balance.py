"""The account's credit balance, read from its profile and set against the threshold."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import attrs

from postroom.results import Credits, Outcome
from postroom_sms_credit.client import PROFILE_PATH, Gateway
from postroom_sms_credit.errors import GatewayError
from postroom_sms_credit.estimate import UNIT, amount


def _quota(profile: dict) -> str:
    """``daily quota: 480 of 500 messages left``, or "" when the profile has none."""
    quota = profile.get("quota")
    if isinstance(quota, dict) and quota.get("size") is not None:
        return f"daily quota: {quota.get('remaining')} of {quota['size']} messages left"
    return ""


def read_credits(gateway: Gateway) -> Credits:
    """The balance as ``Credits``; raises ``GatewayError`` when it cannot be read."""
    profile = gateway.profile()
    credits = profile.get("credits")
    try:
        balance = Decimal(str(credits["balance"]))
    except (KeyError, TypeError, InvalidOperation):
        raise GatewayError(Outcome.TRANSIENT, None, "api", "bad-response",
                           f"{gateway.host} answered {PROFILE_PATH} without credits.balance",
                           "check that base_url is the API root of a compatible gateway") from None
    found = Credits(balance, UNIT, gateway.config.low_credit_threshold)
    return attrs.evolve(found, detail=describe(found, _quota(profile)))


def describe(credits: Credits, quota: str = "") -> str:
    """One line on the balance, warning when it is below the threshold."""
    text = f"{amount(credits.balance)} {credits.unit} remaining"
    if quota:
        text += f"; {quota}"
    if credits.is_low:
        text += (f"; below low_credit_threshold ({amount(credits.low_threshold)} "
                 f"{credits.unit}): top up soon (or turn on automatic top-up), or sending stops "
                 "when they run out")
    return text
