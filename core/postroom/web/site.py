"""What every page shares: the page list, the templates, rendering, flash notes.

A page is a ``Page``: its title in the menu, the route its menu link goes
to, and its routes. ``create_app`` puts a list of them together, so a new
feature's page is one module with one ``Page`` and its template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from attrs import frozen
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute

from postroom.engine import Engine
from postroom.errors import amount
from postroom.web.auth import USER, csrf_token
from postroom.web.words import moment, schedule_in_words

T = TypeVar("T")
FLASH = "flash"


@frozen
class Page:
    """One page of the admin site: ``title`` in the menu, ``link`` the name of
    the route the menu links to, ``routes`` all its routes (views and actions)."""

    title: str
    link: str
    routes: tuple[BaseRoute, ...]


class Site:
    """The engine the pages act through, the pages, and their templates."""

    def __init__(self, engine: Engine, pages: Sequence[Page]) -> None:
        self.engine = engine
        self.pages = tuple(pages)
        self.environment = Environment(
            loader=PackageLoader("postroom.web", "templates"),
            autoescape=select_autoescape(["html"], default_for_string=True),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        zone = engine.config.timezone
        self.environment.filters["amount"] = amount
        self.environment.globals.update(
            when=lambda epoch: moment(epoch, zone, engine.clock()),
            schedule_words=lambda schedule: schedule_in_words(schedule, zone))


def site(request: Request) -> Site:
    return request.app.state.site


def engine(request: Request) -> Engine:
    return site(request).engine


async def call(function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run an engine call off the event loop: tests reach servers, the store takes locks."""
    return await run_in_threadpool(function, *args, **kwargs)


def flash(request: Request, kind: str, text: str, lines: Sequence[str] = ()) -> None:
    """A note shown once at the top of the next page: ``ok``, ``warning`` or ``error``."""
    notes = request.session.setdefault(FLASH, [])
    notes.append({"kind": kind, "text": text, "lines": list(lines)[:10]})
    request.session[FLASH] = notes  # marks the session changed


def render(request: Request, template: str, context: Mapping[str, object] | None = None, *,
           fragment: str | None = None, status: int = 200) -> HTMLResponse:
    """Render a page, or only ``fragment`` when htmx asks to update part of one."""
    chosen = fragment if fragment and "hx-request" in request.headers else template
    here = site(request)
    values = {
        "request": request,
        "url": lambda name, **params: request.url_for(name, **params).path,
        "csrf": csrf_token(request),
        "user": request.session.get(USER),
        "nav": here.pages,
        "flash": request.session.pop(FLASH, []) if chosen == template else [],
        **(context or {}),
    }
    html = here.environment.get_template(chosen).render(values)
    return HTMLResponse(html, status)
