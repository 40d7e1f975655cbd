"""Gmail's daily sending quota: telling its refusal from a bad address, and waiting it out.

Gmail refuses mail with ``550 5.4.5`` once an account has sent its daily
quota. A 5xx reply would otherwise mean "this message can never go"; here it
means "this account can send again tomorrow", so the message waits and the
account pauses instead.
"""

from __future__ import annotations

import re

import attrs

from postroom import Diagnosis, Outcome, SendResult

# Google counts the quota over a rolling 24 hours, not per calendar day, and
# lifts a suspension within 24 hours: waiting that long surely clears it.
QUOTA_PAUSE = 24 * 3600.0
_QUOTA_REPLY = re.compile(r"\b550[ -]5\.4\.5\b")


def is_quota_reply(text: str) -> bool:
    """Whether ``text`` holds Gmail's quota refusal (``550 5.4.5 Daily user sending ...``)."""
    return bool(_QUOTA_REPLY.search(text))


def quota_hint(kind: str, limit: int) -> str:
    """What the admin should know when the quota is used up."""
    return (f"the account has sent Gmail's daily quota (about {limit} messages in 24 hours "
            f"for a {kind} account); Gmail lets it send again within a day, so postroom "
            "pauses it for 24 hours and sends the rest then; if this happens again, lower "
            "daily_cap in the account's [schedule] so postroom stops first")


def quota_result(result: SendResult, kind: str, limit: int) -> SendResult:
    """``result`` as a paused account if Gmail refused it for quota; otherwise as it is."""
    if result.outcome is not Outcome.PERMANENT or not is_quota_reply(
            f"{result.code} {result.text}"):
        return result
    return attrs.evolve(result, outcome=Outcome.ACCOUNT_STOPPED, retry_after=QUOTA_PAUSE,
                        text=f"{result.text}; {quota_hint(kind, limit)}")


def quota_diagnosis(diagnosis: Diagnosis, kind: str, limit: int) -> Diagnosis:
    """A failed test message explained as the quota, if that is why Gmail refused it."""
    if diagnosis.ok or diagnosis.stage != "send" or not is_quota_reply(diagnosis.detail):
        return diagnosis
    return Diagnosis.failed("send", "quota-exceeded", diagnosis.detail, quota_hint(kind, limit),
                            diagnosis.facts)
