"""A stand-alone webhook server: the WSGI app on the standard library's threaded server.

For ``postroom webhooks serve``: put it behind the TLS-terminating proxy that
faces the internet (nginx, Caddy, a load balancer), which gives the provider
an https:// address; the app itself speaks plain HTTP.
"""

from __future__ import annotations

import logging
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from postroom.webhooks.app import wsgi_app

if TYPE_CHECKING:
    from postroom.engine import Engine

log = logging.getLogger("postroom.webhooks")


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a provider hanging on does not keep the process from stopping


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Access lines go to the log at debug level; the query (where a token may stand)
        is left out."""
        log.debug("%s %s", self.address_string(), self.requestline.split("?")[0])


def webhook_server(engine: Engine, host: str = "127.0.0.1", port: int = 8025) -> WSGIServer:
    """A threaded HTTP server of ``engine``'s webhook app; call ``serve_forever()``."""
    return make_server(host, port, wsgi_app(engine), server_class=_ThreadingServer,
                       handler_class=_Handler)


__all__ = ["webhook_server"]
