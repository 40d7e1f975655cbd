"""Delivery log: every try and every operator's action, filtered; Clear older than…"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from postroom.cli import parse_time
from postroom.errors import ConfigError
from postroom.results import Outcome
from postroom.web.auth import action, actor
from postroom.web.site import Page, call, engine, flash, render
from postroom.web.views.filters import LIMITS, read_filters

# What the outcome filter offers: tries, then what operators and reports add.
OUTCOMES = (*(o.value for o in Outcome), "skipped", "override", "cancelled", "requeued",
            "test", "cleared", "pruned", "delivered", "failed")


async def show(request: Request) -> Response:
    chosen = engine(request)
    found = read_filters(request, chosen, ("account", "outcome", "recipient", "since",
                                           "batch"))
    filters = found.values
    entries = [] if found.error else await call(
        chosen.log, account=filters["account"] or None, outcome=filters["outcome"] or None,
        recipient=filters["recipient"] or None, since=found.since, limit=found.limit,
        batch=filters["batch"] or None)
    return render(request, "log.html", {
        "entries": entries, "filters": filters, "limit": found.limit, "limits": LIMITS,
        "outcomes": OUTCOMES, "accounts": list(chosen.config.accounts), "error": found.error,
    }, fragment="_log_results.html")


async def clear(request: Request, form: FormData) -> Response:
    """Delete entries older than the age or date given; the log keeps a note of who did."""
    chosen = engine(request)
    before = str(form.get("before", "")).strip()
    back = RedirectResponse(request.url_for("log").path, 303)
    if not before:
        flash(request, "error", "say how old the entries to delete are: 30d, 12h, or a date "
                                "such as 2026-03-01 (0d deletes everything)")
        return back
    try:
        cutoff = parse_time(before, "older than", chosen, past=True)
    except ConfigError as exc:
        flash(request, "error", str(exc))
        return back
    count = await call(chosen.clear_log, cutoff, by=actor(request))
    flash(request, "ok", f"deleted {count} log entr{'y' if count == 1 else 'ies'} older than "
                         f"{cutoff.astimezone(chosen.config.timezone):%Y-%m-%d %H:%M %Z}")
    return back


page = Page("Delivery log", "log", (
    Route("/log", show, name="log"),
    action("/log/clear", clear, "clear-log"),
))
