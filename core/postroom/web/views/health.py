"""Health: does anything need a person? Workers, due messages, pauses, dead, credit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postroom.web.site import Page, call, engine, render


async def show(request: Request) -> Response:
    """The report ``postroom health`` gives, for people (monitors ask a worker's
    ``--health-port``, which answers 503 when something needs a person)."""
    report = await call(engine(request).health)
    return render(request, "health.html", {"report": report})


page = Page("Health", "health", (Route("/health", show, name="health"),))
