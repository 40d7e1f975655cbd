"""A stand-in for the Nexmo/Vonage REST host, served over real HTTPS on loopback.

It answers the two calls the ``nexmo`` provider makes, with bodies shaped as
the provider documents them:

- ``POST /sms/json`` (form fields): checks the credentials or the request
  signature, splits the text into parts as a carrier would, charges each part
  to a running balance and answers ``{"message-count": "2", "messages": [...]}``
  with one entry per part (``status`` as a string, ``message-id``,
  ``remaining-balance``, ``message-price``, ``network``, ``client-ref``), or
  error entries (``status``, ``error-text``);
- ``GET /account/get-balance`` (Basic auth, or ``api_key``/``api_secret`` in
  the query): ``{"value": 10.0, "autoReload": false}``, or HTTP 401.

Scripted trouble: ``reject(number, status)`` answers a status for a number
(or for one part of its messages), ``answer_next(http_status)`` sends raw HTTP
answers instead, ``whitelist`` acts as a demo account, ``delay`` holds answers
back. It counts the TCP connections it saw, for keep-alive checks and
benchmarks::

    with fake_nexmo(trustme.CA()) as api:
        ...  # point base_url at api.url, ca_bundle at the CA's PEM

The server is the standard library's threaded HTTP/1.1 server rather than
werkzeug's (which pytest-httpserver runs): werkzeug closes the connection
after every answer, so keep-alive could be neither used nor checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import trustme
from attrs import define, field

from loopback.certificates import LOOPBACK_NAMES, server_context
from postroom.sms_text import segment

# Texts of the kind the API puts in ``error-text``.
ERROR_TEXTS = {
    "1": "Throttled",
    "2": "Missing to param",
    "4": "Bad Credentials",
    "5": "Internal Error",
    "7": "Number barred.",
    "8": "Account suspended",
    "9": "Quota Exceeded - rejected",
    "10": "Too many existing binds",
    "14": "Invalid Signature",
    "15": "Illegal Sender Address - rejected",
    "29": "Non White-listed Destination - rejected",
}


@define
class Answer:
    """An HTTP answer: status, body and its type, extra headers."""

    status: int
    body: str
    content_type: str = "application/json"
    headers: dict[str, str] = field(factory=dict)


def _json(data: object, status: int = 200) -> Answer:
    return Answer(status, json.dumps(data))


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


@define
class FakeNexmo:
    """The fake API's state: credentials, balance, price, and what it received."""

    api_key: str = "fake-key"
    api_secret: str = "fake-secret"
    signature_secret: str | None = None
    signature_method: str = "md5hash"
    balance: Decimal = Decimal("10.00000000")
    price: Decimal = Decimal("0.03330000")
    auto_reload: bool = False
    network: str = "23410"
    whitelist: set[str] | None = None
    delay: float = 0.0
    sms: list[dict[str, str]] = field(factory=list)
    balance_requests: int = 0
    port: int = 0
    _rejections: dict[tuple[str, int | None], str] = field(factory=dict)
    _scripted: list[Answer] = field(factory=list)
    _peers: set[tuple[str, int]] = field(factory=set)
    _lock: threading.Lock = field(factory=threading.Lock)
    _released: threading.Event = field(factory=threading.Event)
    _ids: Iterator[int] = field(factory=lambda: itertools.count(0x0C000000217B7F02))

    @property
    def url(self) -> str:
        """The base URL to configure: ``https://127.0.0.1:PORT``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        """How many TCP connections clients opened so far."""
        return len(self._peers)

    def reject(self, number: str, status: str, part: int | None = None) -> None:
        """Answer ``status`` for messages to ``number`` (``+`` optional), or for one part."""
        self._rejections[(number.removeprefix("+"), part)] = status

    def answer_next(self, http_status: int, body: str = "", content_type: str = "text/plain",
                    times: int = 1) -> None:
        """Answer the next ``times`` requests with this raw HTTP answer instead."""
        headers = {"Retry-After": "2"} if http_status == 429 else {}
        self._scripted.extend([Answer(http_status, body, content_type, headers)] * times)

    def release(self) -> None:
        """Let held-back answers go: called when the server stops."""
        self._released.set()

    def handle(self, method: str, target: str, headers, body: bytes,
               peer: tuple[str, int]) -> Answer:
        """Answer one request (called by the server's handler threads)."""
        with self._lock:
            self._peers.add(peer)
            scripted = self._scripted.pop(0) if self._scripted else None
        if self.delay:
            self._released.wait(self.delay)
        if scripted is not None:
            return scripted
        url = urlsplit(target)
        if (method, url.path) == ("POST", "/sms/json"):
            return self._send(dict(parse_qsl(body.decode(), keep_blank_values=True)))
        if (method, url.path) == ("GET", "/account/get-balance"):
            query = dict(parse_qsl(url.query))
            return self._balance(_basic_auth(headers.get("Authorization")) or (
                query.get("api_key", ""), query.get("api_secret", "")))
        return Answer(404, "not found\n", "text/plain")

    def _signature(self, params: dict[str, str]) -> str:
        text = "".join(f"&{k}={v.replace('&', '_').replace('=', '_')}"
                       for k, v in sorted(params.items()) if k != "sig")
        secret = (self.signature_secret or "").encode()
        if self.signature_method == "md5hash":
            return hashlib.md5(text.encode() + secret).hexdigest()
        # The API writes HMAC signatures in capitals.
        return hmac.new(secret, text.encode(), self.signature_method).hexdigest().upper()

    def _refusal(self, form: dict[str, str]) -> str | None:
        """The status for a request refused as a whole, if it is."""
        if form.get("api_key") != self.api_key:
            return "4"
        if "sig" in form:
            if self.signature_secret is None or (
                    form["sig"].upper() != self._signature(form).upper()):
                return "14"
        elif form.get("api_secret") != self.api_secret:
            return "4"
        if not all(form.get(name) for name in ("from", "to", "text")):
            return "2"
        if self.whitelist is not None and form["to"] not in self.whitelist:
            return "29"
        return None

    def _send(self, form: dict[str, str]) -> Answer:
        with self._lock:
            self.sms.append(form)
            refused = self._refusal(form)
            if refused is not None:
                entries = [{"status": refused, "error-text": ERROR_TEXTS.get(refused, "Error")}]
            else:
                entries = [self._part(form, index)
                           for index in range(segment(form["text"]).segments)]
        return _json({"message-count": str(len(entries)), "messages": entries})

    def _part(self, form: dict[str, str], index: int) -> dict[str, str]:
        to = form["to"]
        status = self._rejections.get((to, index)) or self._rejections.get((to, None))
        if status is None and self.balance < self.price:
            status = "9"
        if status is not None:
            return {"status": status, "error-text": ERROR_TEXTS.get(status, "Error")}
        self.balance -= self.price
        entry = {"to": to, "message-id": f"{next(self._ids):016X}", "status": "0",
                 "remaining-balance": f"{self.balance:.8f}",
                 "message-price": f"{self.price:.8f}", "network": self.network}
        if "client-ref" in form:
            entry["client-ref"] = form["client-ref"]
        return entry

    def _balance(self, credentials: tuple[str, str]) -> Answer:
        with self._lock:
            self.balance_requests += 1
            if credentials != (self.api_key, self.api_secret):
                return _json({"error-code": "401", "error-code-label": "authentication failed"},
                             401)
            # A JSON number with all its digits, as the API writes it.
            return Answer(200, f'{{"value": {self.balance}, '
                               f'"autoReload": {json.dumps(self.auto_reload)}}}')


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: answers carry Content-Length
    timeout = 10  # an idle kept-alive connection is dropped after this many seconds
    # Headers and body go out in two writes; with Nagle on, the second waits
    # for the client's delayed ACK and every answer takes 40 ms.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.server.fake.handle(self.command, self.path, self.headers, body,
                                         self.client_address)
        data = answer.body.encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read the fake's state, not its access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeNexmo, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.errors: list[BaseException] = []
        # The handshake runs in each connection's thread, not in the accepting one.
        self.socket = context.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def handle_error(self, request, client_address) -> None:
        """Keep the fake's own failures for the test; a client hanging up is not one."""
        error = sys.exc_info()[1]
        if not isinstance(error, ssl.SSLError | ConnectionError | TimeoutError):
            self.errors.append(error)


@contextmanager
def fake_nexmo(ca: trustme.CA, *, names: tuple[str, ...] = LOOPBACK_NAMES,
               **options: object) -> Iterator[FakeNexmo]:
    """Run a ``FakeNexmo`` on 127.0.0.1 over HTTPS for the ``with`` block.

    ``names`` are the host names on its certificate (from ``ca``).
    """
    fake = FakeNexmo(**options)
    server = _Server(fake, server_context(ca, names))
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fake-nexmo", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    if server.errors:
        raise AssertionError(f"the fake API failed while answering: {server.errors!r}")
