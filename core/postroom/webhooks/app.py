"""The webhook app: one address for every account, as WSGI and as ASGI.

``/ACCOUNT/...`` goes to that account's plugin (``postroom_receive``) through
``Engine.receive``; mount the app under any prefix of your own app, or run it
alone with ``postroom webhooks serve``::

    from postroom.webhooks import asgi_app, wsgi_app

    application = wsgi_app(engine)          # gunicorn, mod_wsgi, Django, Flask
    app.mount("/hooks", asgi_app(engine))   # Starlette, FastAPI

Answers: what the plugin chose (204 by default) when the call was taken;
400, 401 or 403 when it was refused (and logged, never recorded); 404 for an
unknown account or one whose provider takes no webhooks; 405 for a method
other than GET or POST; 413 for a body over ``max_body``; 500 when it could
not be recorded, so the provider calls again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

from postroom.receiving import Answer
from postroom.webhooks.request import MAX_BODY, WebhookRequest

if TYPE_CHECKING:
    from postroom.engine import Engine

METHODS = ("GET", "POST")
REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 413: "Content Too Large",
           500: "Internal Server Error"}


def _plain(status: int, text: str) -> Answer:
    return Answer(status, text + "\n", reason=text)


def split_path(path: str) -> tuple[str, str]:
    """``/texts/receipts`` -> (``texts``, ``/receipts``); the account may be %-encoded."""
    account, _, rest = path.lstrip("/").partition("/")
    return unquote(account), "/" + rest


class WebhookApp:
    """Routes each call to its account; ``wsgi`` and ``asgi`` are the two faces."""

    def __init__(self, engine: Engine, max_body: int = MAX_BODY) -> None:
        self.engine = engine
        self.max_body = max_body

    def answer(self, method: str, path: str, headers: Mapping[str, str], query: str,
               body: bytes, remote_addr: str | None) -> Answer:
        """The answer to one call whose body was read in full."""
        if method not in METHODS:
            return _plain(405, "send webhooks with GET or POST")
        account, rest = split_path(path)
        if not account:
            return _plain(404, "webhooks go to /ACCOUNT/, ACCOUNT being the account's name")
        request = WebhookRequest(method=method, path=rest, headers=headers,
                                 query=dict(reversed(parse_qsl(query, keep_blank_values=True))),
                                 body=body, remote_addr=remote_addr)
        return self.engine.receive(account, request)

    def too_big(self, length: int) -> Answer | None:
        if length > self.max_body:
            return _plain(413, f"the body is {length} bytes; at most {self.max_body} are taken")
        return None

    def declared_length(self, header: str | None) -> int | Answer:
        """The Content-Length a call declares, or the answer refusing it."""
        try:
            length = int(header or 0)
        except ValueError:
            return _plain(400, "the Content-Length header is not a number")
        return self.too_big(length) or length

    # WSGI ----------------------------------------------------------------------

    def wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        answer = self._wsgi_answer(environ)
        data = answer.body.encode()
        status = f"{answer.status} {REASONS.get(answer.status, '')}".rstrip()
        start_response(status, [("Content-Type", answer.content_type),
                                ("Content-Length", str(len(data)))])
        return [data]

    def _wsgi_answer(self, environ: dict) -> Answer:
        length = self.declared_length(environ.get("CONTENT_LENGTH"))
        if isinstance(length, Answer):
            return length
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {key[5:].replace("_", "-"): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-")] = environ[key]
        # WSGI gives the path as latin-1 text of the raw bytes; read it as UTF-8 again.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        return self.answer(environ.get("REQUEST_METHOD", "GET"), path, headers,
                           environ.get("QUERY_STRING", ""), body, environ.get("REMOTE_ADDR"))

    # ASGI ----------------------------------------------------------------------

    async def asgi(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        answer = await self._asgi_answer(scope, receive)
        data = answer.body.encode()
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": [(b"content-type", answer.content_type.encode()),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    async def _asgi_answer(self, scope: dict, receive: Callable) -> Answer:
        headers = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in scope.get("headers", [])}
        declared = self.declared_length(headers.get("content-length"))
        if isinstance(declared, Answer):
            return declared
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _plain(400, "the caller hung up before the body came")
            chunk = message.get("body", b"")
            size += len(chunk)
            refused = self.too_big(size)
            if refused is not None:
                return refused
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        path = scope.get("path", "/")
        root = scope.get("root_path", "")
        if root and path.startswith(root):  # mounted: the path still holds the mount's prefix
            path = path[len(root):]
        client = scope.get("client")
        # The store is synchronous: keep the event loop free while it works.
        return await asyncio.to_thread(
            self.answer, scope.get("method", "GET"), path, headers,
            scope.get("query_string", b"").decode("latin-1"), b"".join(chunks),
            client[0] if client else None)


async def _lifespan(receive: Callable, send: Callable) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def wsgi_app(engine: Engine, max_body: int = MAX_BODY) -> Callable:
    """The webhook app for ``engine`` as a WSGI application."""
    return WebhookApp(engine, max_body).wsgi


def asgi_app(engine: Engine, max_body: int = MAX_BODY) -> Callable:
    """The webhook app for ``engine`` as an ASGI application."""
    webhooks = WebhookApp(engine, max_body)

    # A coroutine function, which ASGI servers recognise as an ASGI 3 app (a bound
    # method they would take for the older two-step interface).
    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        await webhooks.asgi(scope, receive, send)

    return app


__all__ = ["WebhookApp", "asgi_app", "split_path", "wsgi_app"]
