"""A small SMS API of the kind vendors wrap, on 127.0.0.1 (plain HTTP), for the contract kit.

Shaped as many HTTP SMS APIs are (Twilio's among them): Basic credentials,
JSON answers, errors as ``{"code": 20003, "message": "..."}`` with an HTTP
status, a balance endpoint:

- ``POST /v1/messages`` with ``{"to", "from", "body", "reference"}``: 201
  ``{"id", "status": "queued", "price": "0.05"}``; 400 code 21211 for a
  number on the ``rejected`` list; 401 code 20003 for wrong credentials.
- ``GET /v1/balance``: ``{"balance": "12.50", "currency": "EUR"}``.

Scripted trouble: ``answer_sends_with(status, body, content_type, headers)``
answers every later send so (a 429, a 503, an HTML page), ``delay`` holds
answers back until the server stops. ``sends`` counts send requests.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from attrs import define, field


@define
class FakeAcme:
    key_id: str = "AC-key-id"
    key_secret: str = "acme-s3cret/with+odd=chars"
    balance: str = "12.50"
    rejected: set[str] = field(factory=set)
    delay: float = 0.0
    sends: int = 0
    port: int = 0
    _scripted: tuple[int, str, str, dict] | None = None
    _released: threading.Event = field(factory=threading.Event)
    _lock: threading.Lock = field(factory=threading.Lock)
    _ids: Iterator[int] = field(factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answer_sends_with(self, status: int, body: str = "", content_type: str = "text/plain",
                          headers: dict[str, str] | None = None) -> None:
        self._scripted = (status, body, content_type, dict(headers or {}))

    def handle(self, method: str, path: str, authorization: str | None,
               body: bytes) -> tuple[int, str, str, dict]:
        if self.delay:
            self._released.wait(self.delay)
        expected = "Basic " + base64.b64encode(
            f"{self.key_id}:{self.key_secret}".encode()).decode()
        if (method, path) == ("GET", "/v1/balance"):
            if authorization != expected:
                return _error(401, 20003, "Authenticate")
            return 200, json.dumps({"balance": self.balance, "currency": "EUR"}), \
                "application/json", {}
        if (method, path) != ("POST", "/v1/messages"):
            return _error(404, 20404, "not found")
        with self._lock:
            self.sends += 1
        if self._scripted is not None:
            return self._scripted
        if authorization != expected:
            return _error(401, 20003, "Authenticate")
        entry = json.loads(body)
        if entry["to"] in self.rejected:
            return _error(400, 21211, f"The 'To' number {entry['to']} is not a valid number")
        return 201, json.dumps({"id": f"SM{next(self._ids):08d}", "status": "queued",
                                "price": "0.05", "reference": entry.get("reference")}), \
            "application/json", {}


def _error(status: int, code: int, message: str) -> tuple[int, str, str, dict]:
    return status, json.dumps({"code": code, "message": message, "status": status}), \
        "application/json", {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, text, kind, headers = self.server.fake.handle(
            self.command, self.path, self.headers.get("Authorization"), body)
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def fake_acme(**options: object) -> Iterator[FakeAcme]:
    fake = FakeAcme(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.block_on_close = False
    server.fake = fake
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake._released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
