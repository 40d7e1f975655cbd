"""Whether a number may be sent to: the opt-outs people made by replying STOP.

An opt-out is recorded in the store for a channel (``sms``), so every account
of that channel, every worker and every host honours it. ``send`` skips such
a number, and so does the worker when an opt-out arrived while the message
waited; ``notify`` skips it unless the event is critical.
"""

from __future__ import annotations

from datetime import UTC, datetime

from postroom.store import OptOut, Store


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


__all__ = ["describe", "opted_out_reason"]
