"""A credit-keeping stand-in for a BulkSMS-style JSON REST gateway, over HTTPS on loopback.

It answers what the ``sms_credit`` provider calls, shaped as the BulkSMS JSON
REST API v1 documents it:

- ``POST /v1/messages[?deduplication-id=N]`` with a JSON object or array of
  submission entries (``to``, ``body``, ``encoding``, ``from``,
  ``userSuppliedId``, ``longMessageMaxParts``): checks Basic credentials and
  each entry, prices the whole submission, refuses it with a 403 problem
  (``...errors#insufficient-credits``) when the balance does not cover it,
  else charges the balance and answers 201 with one message object per entry
  (``creditCost`` and ``numberOfParts`` empty, as in the real answer). A
  deduplication id seen before for the same login replays the first answer
  without charging again.
- ``GET /v1/profile``: ``{"username", "credits": {"balance", ...}, "quota": {...}}``.

It charges ``credits_per_part`` for each SMS part, counting parts with its
own reading of GSM 03.38 and UCS-2, written apart from ``postroom.sms_text``
on purpose, so that a test setting the plugin's estimate against the charge
checks two implementations against each other. A ``TEXT`` entry with
characters outside GSM 03.38 has them replaced by ``?``, as the real gateway
does. Messages to a ``blocked`` number fail (``FAILED.BLOCKED``) and are
charged all the same, as documented; a number given to ``refuse`` makes the
whole submission a 400 problem, charging nothing.

Scripted trouble: ``answer_next(status, ...)`` answers raw errors,
``lose_answers(n)`` processes (and charges) a submission and then drops the
connection before answering, ``delay`` holds answers back. ``connections``
counts TCP connections, ``requests`` keeps what came in::

    with fake_gateway(trustme.CA(), balance=Decimal(50)) as gateway:
        ...  # base_url = gateway.url, ca_bundle = the CA's PEM
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import ssl
import string
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import trustme
from attrs import define, field

from loopback.certificates import server_context

ERRORS = "https://developer.bulksms.com/json/v1/errors#"
API_ROOT = "/v1"

# GSM 03.38, read off the standard's table rather than shared with postroom:
# printable ASCII except the characters that live in the extension table and
# the backtick, plus the accented and Greek letters of the default alphabet.
GSM_ONE_SEPTET = (
    frozenset(string.digits + string.ascii_letters + string.punctuation + " ")
    - frozenset("[\\]^{|}~`")
    | frozenset("\n\r£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà")
)
GSM_TWO_SEPTETS = frozenset("\x0c^{}\\[]~|€")


def sms_parts(body: str, encoding: str) -> int:
    """How many SMS a carrier sends ``body`` as, in ``TEXT`` (GSM) or ``UNICODE``.

    A long message is packed part by part; a character never straddles two
    parts (an escaped GSM character, a UTF-16 surrogate pair).
    """
    if encoding == "UNICODE":
        widths = [len(char.encode("utf-16-le")) // 2 for char in body]
        whole, part = 70, 67
    else:
        widths = [2 if char in GSM_TWO_SEPTETS else 1 for char in body]
        whole, part = 160, 153
    if sum(widths) <= whole:
        return 1
    parts, room = 1, part
    for width in widths:
        if width > room:
            parts, room = parts + 1, part
        room -= width
    return parts


def as_gsm(body: str) -> str:
    """``body`` as a TEXT message arrives: characters outside GSM 03.38 become ``?``."""
    return "".join(c if c in GSM_ONE_SEPTET or c in GSM_TWO_SEPTETS else "?" for c in body)


@define
class Reply:
    """An HTTP answer; ``drop`` closes the connection without one."""

    status: int
    body: str = ""
    content_type: str = "application/json"
    headers: dict[str, str] = field(factory=dict)
    drop: bool = False


def _problem(status: int, name: str, title: str, detail: str = "") -> Reply:
    document = {"type": ERRORS + name, "title": title, "status": status}
    if detail:
        document["detail"] = detail
    return Reply(status, json.dumps(document))


@define
class Received:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    body: object
    login: str | None
    replayed: bool = False


@define
class Charge:
    """Credits taken for one message."""

    message_id: str
    to: str
    parts: int
    credits: Decimal


class Rejected(Exception):
    """An entry the gateway refuses (HTTP 400): the whole submission fails."""


def _decimal_json(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


@define
class FakeGateway:
    """The gateway's state: logins, balance, price per part, and what it received."""

    logins: dict[str, str] = field(factory=lambda: {"fake-token-id": "fake-token-secret"})
    balance: Decimal = Decimal(1000)
    credits_per_part: Decimal = Decimal(1)
    quota_size: int = 10_000
    blocked: set[str] = field(factory=set)
    invalid: set[str] = field(factory=set)
    delay: float = 0.0
    port: int = 0
    requests: list[Received] = field(factory=list)
    charges: list[Charge] = field(factory=list)
    connections: int = 0
    _answers: dict[tuple[str, int], Reply] = field(factory=dict)
    _script: list[Reply] = field(factory=list)
    _lose: int = 0
    _lock: threading.RLock = field(factory=threading.RLock)
    _released: threading.Event = field(factory=threading.Event)
    _ids: Iterator[int] = field(factory=lambda: itertools.count(4_023_457_650))
    _submissions: Iterator[int] = field(factory=lambda: itertools.count(522_347_562))

    @property
    def url(self) -> str:
        """The base URL to configure: ``https://127.0.0.1:PORT/v1``."""
        return f"https://127.0.0.1:{self.port}{API_ROOT}"

    @property
    def charged(self) -> Decimal:
        """Credits taken so far."""
        return sum((c.credits for c in self.charges), Decimal(0))

    @property
    def submissions(self) -> list[Received]:
        """The POSTs to /messages, replays included."""
        return [r for r in self.requests if r.method == "POST"]

    def block(self, number: str) -> None:
        """Put ``number`` (E.164) on the account's blocked list."""
        self.blocked.add(number)

    def refuse(self, number: str) -> None:
        """Refuse any submission with a message to ``number`` (HTTP 400), as a bad number is."""
        self.invalid.add(number)

    def answer_next(self, status: int, name: str = "", title: str = "", times: int = 1,
                    retry_after: str | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` instead: with a problem
        document when ``name`` is given, else with a bare text body."""
        reply = (_problem(status, name, title) if name
                 else Reply(status, f"HTTP {status}\n", "text/plain"))
        if retry_after is not None:
            reply.headers["Retry-After"] = retry_after
        self._script.extend([reply] * times)

    def lose_answers(self, times: int = 1) -> None:
        """Process the next ``times`` submissions, then hang up instead of answering."""
        self._lose += times

    def connected(self) -> None:
        """Count a new TCP connection (one handler serves each)."""
        with self._lock:
            self.connections += 1

    def release(self) -> None:
        """Let held-back answers go: called when the server stops."""
        self._released.set()

    def handle(self, method: str, target: str, headers: Mapping[str, str],
               body: bytes) -> Reply:
        """Answer one request (called from the server's handler threads)."""
        if self.delay:
            self._released.wait(self.delay)
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        login = self._login(headers.get("Authorization"))
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body.decode("utf-8", "replace")
        with self._lock:
            seen = Received(method, url.path, query, payload, login)
            self.requests.append(seen)
            if self._script:
                return self._script.pop(0)
            if login is None:
                return _problem(401, "authentication-failed", "Authentication Failed",
                                "the Basic credentials are missing or wrong")
            if (method, url.path) == ("GET", API_ROOT + "/profile"):
                return self._profile(login)
            if (method, url.path) == ("POST", API_ROOT + "/messages"):
                reply = self._submit(seen, headers)
                if reply.status == 201 and self._lose:
                    self._lose -= 1
                    return Reply(201, drop=True)
                return reply
            return _problem(404, "not-found", "Not Found", f"no resource at {url.path}")

    def _login(self, header: str | None) -> str | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(
                ":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if self.logins.get(user) == password else None

    def _profile(self, login: str) -> Reply:
        sent_today = len(self.charges)
        profile = {"id": "1234", "username": login, "created": "2020-01-01T10:00:00Z",
                   "credits": {"balance": self.balance, "isTransferAllowed": False, "limit": 0},
                   "quota": {"size": self.quota_size,
                             "remaining": max(self.quota_size - sent_today, 0)},
                   "originAddresses": {"allowed": [], "isFullControlAllowed": True}}
        return Reply(200, json.dumps(profile, default=_decimal_json))

    def _submit(self, seen: Received, headers: Mapping[str, str]) -> Reply:
        if not headers.get("Content-Type", "").startswith("application/json"):
            return _problem(415, "unsupported-media-type", "Unsupported Media Type")
        dedup = seen.query.get("deduplication-id")
        if dedup is not None and not dedup.lstrip("-").isdigit():
            return _problem(400, "bad-request", "Bad Request", "deduplication-id: not an integer")
        key = (seen.login or "", int(dedup)) if dedup is not None else None
        if key in self._answers:
            seen.replayed = True
            return self._answers[key]
        entries = seen.body if isinstance(seen.body, list) else [seen.body]
        try:
            priced = [self._priced(entry, index) for index, entry in enumerate(entries)]
        except Rejected as exc:
            return _problem(400, "bad-request", "Bad Request", str(exc))
        cost = sum((credits for *_, credits in priced), Decimal(0))
        if cost > self.balance:
            return _problem(403, "insufficient-credits", "Insufficient Credits")
        submission = f"1-00000000000{next(self._submissions)}"
        made = [self._message(entry, body, parts, credits, submission)
                for entry, body, parts, credits in priced]
        reply = Reply(201, json.dumps(made))
        if key is not None:
            self._answers[key] = reply
        return reply

    def _priced(self, entry: object, index: int) -> tuple[dict, str, int, Decimal]:
        """Check one entry; the body as it will go, its parts and its credits."""
        where = f"entry {index}"
        if not isinstance(entry, dict):
            raise Rejected(f"{where}: expected an object")
        to, body = entry.get("to"), entry.get("body")
        if not isinstance(to, str) or not to.removeprefix("+").isdigit() or not (
                7 <= len(to.removeprefix("+")) <= 15):
            raise Rejected(f"{where}: to: {to!r} is not a phone number")
        if to in self.invalid:
            raise Rejected(f"{where}: to: {to} is not a valid mobile number")
        if not isinstance(body, str) or not body:
            raise Rejected(f"{where}: body is required")
        encoding = entry.get("encoding", "TEXT")
        if encoding not in ("TEXT", "UNICODE", "BINARY"):
            raise Rejected(f"{where}: encoding {encoding!r} is not TEXT, UNICODE or BINARY")
        ref = entry.get("userSuppliedId")
        if ref is not None and (not isinstance(ref, str) or len(ref) > 20):
            raise Rejected(f"{where}: userSuppliedId may have at most 20 characters")
        self._check_sender(entry.get("from"), where)
        if encoding == "TEXT":
            body = as_gsm(body)
        parts = sms_parts(body, encoding)
        most = entry.get("longMessageMaxParts", 3)
        if not isinstance(most, int) or most < 1:
            raise Rejected(f"{where}: longMessageMaxParts must be a whole number above 0")
        if parts > most:
            raise Rejected(f"{where}: the body needs {parts} parts, more than "
                           f"longMessageMaxParts ({most})")
        return entry, body, parts, parts * self.credits_per_part

    def _check_sender(self, sender: object, where: str) -> None:
        if sender is None:
            return
        if isinstance(sender, dict):
            address = str(sender.get("address", ""))
            if sender.get("type") != "SHORTCODE" or not (address.isdigit() and len(address) <= 6):
                raise Rejected(f"{where}: from: only SHORTCODE objects are understood here")
            return
        digits = str(sender).removeprefix("+")
        if digits.isdigit() and str(sender).startswith("+") and 6 < len(digits) <= 15:
            return
        if isinstance(sender, str) and not digits.isdigit() and len(sender) <= 11:
            return
        raise Rejected(f"{where}: from: {sender!r} is not a valid sender")

    def _message(self, entry: dict, body: str, parts: int, credits: Decimal,
                 submission: str) -> dict:
        message_id = str(next(self._ids))
        self.balance -= credits
        self.charges.append(Charge(message_id, entry["to"], parts, credits))
        failed = entry["to"] in self.blocked
        status = ({"id": "FAILED.BLOCKED", "type": "FAILED", "subtype": "BLOCKED"} if failed
                  else {"id": "ACCEPTED.null", "type": "ACCEPTED", "subtype": None})
        sender = entry.get("from")
        return {"id": message_id, "type": "SENT",
                "from": sender.get("address") if isinstance(sender, dict) else sender,
                "to": entry["to"], "body": body, "encoding": entry.get("encoding", "TEXT"),
                "protocolId": 0, "messageClass": 2, "numberOfParts": None, "creditCost": None,
                "submission": {"id": submission,
                               "date": datetime.now(UTC).isoformat(timespec="seconds")},
                "status": status, "relatedSentMessageId": None,
                "userSuppliedId": entry.get("userSuppliedId")}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries its length
    timeout = 10  # seconds an idle kept-alive connection stays open
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def handle(self) -> None:
        self.server.gateway.connected()
        super().handle()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.gateway.handle(self.command, self.path, self.headers, body)
        if reply.drop:
            self.close_connection = True
            return
        data = reply.body.encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read the gateway's state, not an access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, gateway: FakeGateway, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.gateway = gateway
        self.failures: list[BaseException] = []
        # Handshakes happen in each connection's thread, so a stuck client blocks no one.
        self.socket = context.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def handle_error(self, request, client_address) -> None:
        """Keep the fake's own failures for the test; a client hanging up is not one."""
        error = sys.exc_info()[1]
        if not isinstance(error, ssl.SSLError | ConnectionError | TimeoutError):
            self.failures.append(error)


@contextmanager
def fake_gateway(ca: trustme.CA, **state: object) -> Iterator[FakeGateway]:
    """Serve a ``FakeGateway`` on 127.0.0.1 over HTTPS for the ``with`` block."""
    gateway = FakeGateway(**state)
    server = _Server(gateway, server_context(ca))
    gateway.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fake-bulksms", daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        gateway.release()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    if server.failures:
        raise AssertionError(f"the fake gateway failed while answering: {server.failures!r}")
