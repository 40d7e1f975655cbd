"""Who may use the admin page: the password, signed expiring sessions, CSRF tokens.

- The password (or token) comes from ``[web] password``, a secret; it is
  compared in constant time (as digests, so its length does not show either).
- The session is a cookie signed with a key derived from the password, so
  changing the password logs everyone out, and several server processes
  agree without sharing state. A login lasts ``session_minutes``.
- Every form that changes something carries the session's CSRF token;
  ``action`` routes refuse a POST without it before the view runs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from postroom.secrets import Secret

USER = "user"
SINCE = "since"
CSRF = "csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
# Reached without a login: the login form itself and the stylesheet it uses.
PUBLIC_PATHS = ("/login",)
PUBLIC_PREFIXES = ("/static/",)


def session_key(password: Secret) -> str:
    """The key sessions are signed with, derived from the password."""
    return hmac.new(password.reveal().encode(), b"postroom web session",
                    hashlib.sha256).hexdigest()


def password_matches(given: str, password: Secret) -> bool:
    """Compare in constant time; digests first, so a wrong length costs the same."""
    expected = hashlib.sha256(password.reveal().encode()).digest()
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), expected)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get(CSRF)
    if not token:
        token = request.session[CSRF] = secrets.token_urlsafe(32)
    return token


def start_session(request: Request, name: str) -> None:
    """Log ``name`` in: a fresh session with a new CSRF token."""
    request.session.clear()
    request.session.update({USER: name, SINCE: time.time(),
                            CSRF: secrets.token_urlsafe(32)})


def actor(request: Request) -> str:
    """Who did it, for the delivery log: the name given at login, the page, the address."""
    client = request.client.host if request.client else "unknown address"
    return f"{request.session.get(USER, '?')} (web, {client})"


def logged_in(scope: Scope, minutes: int, now: float) -> bool:
    session = scope.get("session") or {}
    since = session.get(SINCE)
    return bool(session.get(USER)) and isinstance(since, int | float) and \
        0 <= now - since < minutes * 60


def route_path(scope: Scope) -> str:
    """The path inside this app, without the prefix it is mounted under."""
    root, path = scope.get("root_path", ""), scope["path"]
    return (path[len(root):] or "/") if root and path.startswith(root) else path


class RequireLogin:
    """ASGI middleware: every path but the login form and static files needs a live session.

    A page asked for without one is sent to the login form, which comes back
    to it afterwards; anything else (a POST, an htmx request) is refused with
    401, and htmx is told to load the login form.
    """

    def __init__(self, app: ASGIApp, minutes: int) -> None:
        self.app = app
        self.minutes = minutes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or \
                logged_in(scope, self.minutes, time.time()):
            await self.app(scope, receive, send)
            return
        scope["session"].pop(USER, None)
        request = Request(scope)
        login = request.url_for("login").path
        if request.method in ("GET", "HEAD") and "hx-request" not in request.headers:
            target = path + (f"?{request.url.query}" if request.url.query else "")
            response: Response = RedirectResponse(f"{login}?next={quote(target)}", 303)
        else:
            response = PlainTextResponse("log in first", 401, headers={"HX-Redirect": login})
        await response(scope, receive, send)


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session's; 403 otherwise."""
    form = await request.form()
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = request.session.get(CSRF) or ""
    if not (isinstance(given, str) and expected
            and hmac.compare_digest(given.encode(), expected.encode())):
        raise HTTPException(403, "the form's security token is missing or stale: "
                                 "reload the page and try again")
    return form


View = Callable[[Request, FormData], Awaitable[Response]]


def action(path: str, view: View, name: str) -> Route:
    """A POST route that changes something: its view gets the form only after the
    CSRF check, so no such route can skip it."""
    async def endpoint(request: Request) -> Response:
        return await view(request, await checked_form(request))
    endpoint.__name__ = view.__name__
    return Route(path, endpoint, methods=["POST"], name=name)
