"""Inbox: what came in (replies, bounces, STOP and START, other mail), filtered."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postroom.web.site import Page, call, engine, render
from postroom.web.views.filters import LIMITS, read_filters

KINDS = ("reply", "bounce", "opt_out", "opt_in", "other")


async def show(request: Request) -> Response:
    chosen = engine(request)
    found = read_filters(request, chosen, ("account", "kind", "sender", "since"))
    filters = found.values
    error = found.error
    if filters["kind"] and filters["kind"] not in KINDS:
        error = f"kind: expected one of {', '.join(KINDS)}"
    entries = [] if error else await call(
        chosen.inbox, account=filters["account"] or None, kind=filters["kind"] or None,
        sender=filters["sender"] or None, since=found.since, limit=found.limit)
    return render(request, "inbox.html", {
        "entries": entries, "filters": filters, "limit": found.limit, "limits": LIMITS,
        "kinds": KINDS, "accounts": list(chosen.config.accounts), "error": error,
    }, fragment="_inbox_results.html")


page = Page("Inbox", "inbox", (Route("/inbox", show, name="inbox"),))
