"""A worker's health over HTTP, for orchestrators and monitoring: a thread, no framework.

``GET /health`` (or ``/``) answers the same report as ``postroom health``, as
JSON, with status 200 when nothing needs a person and 503 when something
does: for alerting. ``GET /live`` answers 200 while this worker's heartbeat
reaches the store and 503 when it does not: for an orchestrator's liveness
probe, which should restart the worker, not page a person for a provider
that is down.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from postroom.errors import StoreUnavailable
from postroom.health import HealthReport

log = logging.getLogger("postroom.probes")


class ProbeServer:
    """Serves ``report`` at ``/health`` and ``live`` at ``/live`` on ``host``:``port``
    until ``close``."""

    def __init__(self, host: str, port: int, report: Callable[[], HealthReport],
                 live: Callable[[], bool]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0].rstrip("/") or "/health"
                try:
                    if path == "/health":
                        found = report()
                        self._answer(200 if found.ok else 503, found.as_dict())
                    elif path == "/live":
                        alive = live()
                        self._answer(200 if alive else 503, {"alive": alive})
                    else:
                        self._answer(404, {"error": "not found: ask /health or /live"})
                except StoreUnavailable as error:
                    self._answer(503, {"ok": False, "problems": [str(error)]})

            def _answer(self, status: int, data: object) -> None:
                body = json.dumps(data, ensure_ascii=False, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("probe %s: " + format, self.address_string(), *args)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="postroom-probes",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
