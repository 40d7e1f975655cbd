"""``create_app``: the admin page as one ASGI app, to serve alone or mount in another.

::

    from postroom import Engine
    from postroom.web import create_app

    app = create_app(Engine.from_file("postroom.toml"))   # uvicorn module:app

Each page lives in its own module under ``postroom.web.views`` and is one
``Page`` in ``PAGES``; the login, the session and the CSRF check wrap them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postroom.engine import Engine
from postroom.errors import ConfigError, PostroomError
from postroom.secrets import Secret
from postroom.web.auth import RequireLogin, action, password_matches, session_key, start_session
from postroom.web.site import Page, Site, render
from postroom.web.views import accounts, delivery_log, estimate, health, inbox, queue, templates

PAGES: tuple[Page, ...] = (accounts.page, queue.page, delivery_log.page, inbox.page,
                           estimate.page, templates.page, health.page)
COOKIE = "postroom_session"
FAILED_LOGIN_DELAY = 1.0  # seconds: slows down guessing without locking anyone out

# Pages may load only what this app serves; nothing may frame them.
HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-src 'self'; form-action 'self'; "
                               "base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """ASGI middleware: the headers above on every response that has not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((name.encode(), value.encode())
                                        for name, value in HEADERS.items()
                                        if name.encode() not in present)]
            await send(message)
        await self.app(scope, receive, with_headers)


def create_app(engine: Engine, *, password: str | Secret | None = None,
               session_minutes: int | None = None, secure_cookies: bool | None = None,
               pages: Sequence[Page] = PAGES) -> Starlette:
    """The admin page for ``engine``, as a Starlette (ASGI) app.

    ``password`` (else ``[web] password``) is what people log in with; there
    is no page without one. ``session_minutes`` and ``secure_cookies``
    override ``[web]``. ``pages`` chooses and orders the pages.
    """
    settings = engine.config.web
    secret = Secret(password, "code") if isinstance(password, str) else password
    secret = secret or settings.password
    if not secret:
        raise ConfigError([("web.password", 'required: the admin page is never served without '
                                            'a login; set password = { env = '
                                            '"POSTROOM_WEB_PASSWORD" } under [web]')])
    minutes = session_minutes or settings.session_minutes
    secure = settings.secure_cookies if secure_cookies is None else secure_cookies

    async def log_in(request: Request, form: FormData) -> Response:
        name = str(form.get("name", "")).strip()
        if not name or not password_matches(str(form.get("password", "")), secret):
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            error = ("give your name: it goes in the delivery log with what you do" if not name
                     else "that password is not the one in [web] password")
            return render(request, "login.html", {"error": error, "name": name,
                                                  "next": form.get("next", "")}, status=401)
        start_session(request, name)
        return RedirectResponse(_safe_next(request, str(form.get("next", ""))), 303)

    routes = [
        Route("/", home, name="home"),
        Route("/login", login_page, methods=["GET"], name="login"),
        action("/login", log_in, "log-in"),
        action("/logout", log_out, "log-out"),
        Mount("/static", StaticFiles(packages=[("postroom.web", "static")]), name="static"),
        *(route for page in pages for route in page.routes),
    ]
    middleware = [
        Middleware(SessionMiddleware, secret_key=session_key(secret), session_cookie=COOKIE,
                   max_age=minutes * 60, same_site="lax", https_only=secure),
        Middleware(SecurityHeaders),
        Middleware(RequireLogin, minutes=minutes),
    ]
    handlers = {HTTPException: http_error, PostroomError: postroom_error}
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
    app.state.site = Site(engine, pages)
    return app


async def home(request: Request) -> Response:
    first = request.app.state.site.pages[0].link
    return RedirectResponse(request.url_for(first).path, 303)


async def login_page(request: Request) -> Response:
    return render(request, "login.html", {"error": None, "name": "",
                                          "next": request.query_params.get("next", "")})


async def log_out(request: Request, form: FormData) -> Response:
    request.session.clear()
    return RedirectResponse(request.url_for("login").path, 303)


def _safe_next(request: Request, target: str) -> str:
    """Where to go after logging in: a path inside this app, never another site."""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return request.url_for("home").path
    return request.url_for("home").path.rstrip("/") + target


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(request, "error.html", {"status": exc.status_code, "message": exc.detail},
                  status=exc.status_code)


async def postroom_error(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", {"status": 400, "message": str(exc)}, status=400)
