"""Estimate: how long a bulk send of N messages takes through an account, and a warning."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postroom.errors import ConfigError
from postroom.scheduling import Estimate
from postroom.web.site import Page, call, engine, render

MAX_COUNT = 10_000_000


async def show(request: Request) -> Response:
    chosen = engine(request)
    names = list(chosen.config.accounts)
    account = request.query_params.get("account", names[0] if names else "")
    raw = request.query_params.get("count", "").strip()
    found: Estimate | None = None
    error = None
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_COUNT:
            error = f"count: expected a whole number from 1 to {MAX_COUNT:,}, got {raw!r}"
        else:
            try:
                found = await call(chosen.estimate, account, int(raw))
            except (ConfigError, ValueError) as exc:  # no such account; limits that never open
                error = str(exc)
    return render(request, "estimate.html", {"accounts": names, "account": account,
                                             "count": raw, "found": found, "error": error},
                  fragment="_estimate.html")


page = Page("Estimate", "estimate", (Route("/estimate", show, name="estimate"),))
