"""Whether a number may be sent to: the opt-outs people made by replying STOP.

An opt-out is recorded in the store for a channel (``sms``), so every account
of that channel, every worker and every host honours it. ``send`` skips such
a number, and so does the worker when an opt-out arrived while the message
waited; ``notify`` skips it unless the event is critical, and the worker lets
a critical event's message through.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from postroom.messages import Message
from postroom.store import Claimed, OptOut, Store


def describe(opt_out: OptOut) -> str:
    """Why a message to an opted-out number is skipped, for the log and for people."""
    when = datetime.fromtimestamp(opt_out.at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    how = (f"{opt_out.keyword} to account {opt_out.account}" if opt_out.keyword
           else f"reported by account {opt_out.account}'s provider")
    return (f"{opt_out.address} opted out of {opt_out.scope} messages on {when} ({how}); "
            "a START reply from that number opts it back in")


def opted_out_reason(store: Store, scope: str, address: str) -> str | None:
    """Why ``address`` must not get ``scope`` messages, or None when it may."""
    found = store.opted_out(scope, address)
    return None if found is None else describe(found)


def messages_opted_out(store: Store, scope: str, messages: Iterable[Message]) -> dict[str, str]:
    """The messages a recipient of which opted out, each id with the reason: one
    question to the store for them all."""
    messages = list(messages)
    found = store.opted_out_among(scope, [a for m in messages for a in m.recipients])
    if not found:
        return {}
    reasons = {}
    for message in messages:
        first = next((found[a] for a in message.recipients if a in found), None)
        if first is not None:
            reasons[message.id] = describe(first)
    return reasons


def opted_out_claims(store: Store, scope: str, claimed: Iterable[Claimed]) -> dict[str, str]:
    """The claimed messages a recipient of which opted out, critical ones left
    out: each message's id with the reason."""
    return messages_opted_out(store, scope, (c.message for c in claimed if not c.critical))


__all__ = ["describe", "messages_opted_out", "opted_out_claims", "opted_out_reason"]
