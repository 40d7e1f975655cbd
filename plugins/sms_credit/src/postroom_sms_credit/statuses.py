"""What the ``status`` of each message in a submission's answer means.

The gateway answers a submission with one message object per recipient; its
``status.type`` says whether the gateway took it (``ACCEPTED``, ``SCHEDULED``,
or already ``SENT`` / ``DELIVERED``) or gave up on it (``FAILED``, with a
``subtype`` saying why). A failed message was refused for good: sending it
again would fail the same way (and a gateway may bill it again).
"""

from __future__ import annotations

from attrs import frozen

TAKEN = frozenset({"ACCEPTED", "SCHEDULED", "SENT", "DELIVERED", "UNKNOWN"})
"""Types meaning the gateway has the message. ``UNKNOWN`` counts: the gateway
holds it, and sending it again could deliver it twice."""

_FAILURES = {
    "BLOCKED": ("blocked", "the number is on the account's blocked list, often because the "
                "recipient replied STOP; remove it there only with the recipient's consent"),
    "NOT_SENT": ("not-sent", "the gateway found no route to the number; check that it is a "
                 "mobile number with the right country code"),
    "EXPIRED": ("expired", "the network could not deliver it in time; check the number"),
    "HANDSET_ERROR": ("handset-error", "the phone refused it (storage full or switched off "
                      "for long); try again later as a new message"),
}


@frozen
class Verdict:
    """One message's fate: ``taken`` or not, the status as the gateway wrote
    it (``FAILED.BLOCKED``), and for a failure a category and a hint."""

    taken: bool
    status: str
    category: str = ""
    hint: str = ""


def verdict(entry: dict) -> Verdict:
    """Read the ``status`` of one message object from the gateway's answer."""
    status = entry.get("status")
    status = status if isinstance(status, dict) else {}
    kind = str(status.get("type") or "").upper()
    subtype = str(status.get("subtype") or "").upper()
    shown = str(status.get("id") or (f"{kind}.{subtype}" if subtype else kind) or "no status")
    if kind in TAKEN:
        return Verdict(True, shown)
    category, hint = _FAILURES.get(subtype, ("failed", "the gateway refused this message; see "
                                                       "its status in the gateway's web app"))
    return Verdict(False, shown, category, hint)
