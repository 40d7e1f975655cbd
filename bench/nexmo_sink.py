"""A fast stand-in for the Nexmo/Vonage SMS API over HTTPS, for benchmarks.

    python bench/nexmo_sink.py --cert server.pem [--port 0] [--latency 0]

``POST /sms/json`` answers as the API does (form fields in; ``message-count``
and one entry per part out, ``status`` ``"0"``, ``message-id``,
``remaining-balance``, ``message-price``, ``network``, ``client-ref``). The
credentials may come in the form (``api_key``, ``api_secret``: postroom,
requests, Apprise) or as Basic authentication (the vonage SDK); wrong ones get
status 4, missing fields status 2. ``GET /_bench/count`` returns how many
messages were accepted so far, which is how the benchmark checks that every
peer delivered all of its messages.

It runs in its own process, on asyncio with HTTP/1.1 keep-alive, so that its
work is not charged to the client under test (the test suite's fake is a
thread-per-connection ``http.server`` living inside the test process).
``--latency`` holds each answer back, like the network round trip to the
real API. It prints ``port=N`` once it listens and stops when its standard
input closes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import itertools
import json
import ssl
from urllib.parse import parse_qsl

from common import serve_until_stdin_closes

from postroom.sms_text import segment

API_KEY = "benchkey"
API_SECRET = "benchsecret"
PRICE = 3330000  # in 1e-8 EUR: 0.0333 a part, as the real API prices a UK message
BALANCE = 10**6 * 10**8


def _basic(value: str | None) -> tuple[str, str] | None:
    if not value or not value.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _money(units: int) -> str:
    return f"{units // 10**8}.{units % 10**8:08d}"


class Api:
    """The fake account: balance, message ids, and the count of accepted messages."""

    def __init__(self) -> None:
        self.accepted = 0
        self.balance = BALANCE
        self.ids = itertools.count(0x0C000000217B7F02)

    def sms(self, form: dict[str, str], authorization: str | None) -> dict:
        given = (form.get("api_key"), form.get("api_secret"))
        if given != (API_KEY, API_SECRET) and _basic(authorization) != (API_KEY, API_SECRET):
            return {"message-count": "1",
                    "messages": [{"status": "4", "error-text": "Bad Credentials"}]}
        if not all(form.get(name) for name in ("from", "to", "text")):
            return {"message-count": "1",
                    "messages": [{"status": "2", "error-text": "Missing to param"}]}
        entries = []
        for _ in range(segment(form["text"]).segments):
            self.balance -= PRICE
            entry = {"to": form["to"], "message-id": f"{next(self.ids):016X}", "status": "0",
                     "remaining-balance": _money(self.balance), "message-price": _money(PRICE),
                     "network": "23410"}
            if "client-ref" in form:
                entry["client-ref"] = form["client-ref"]
            entries.append(entry)
        self.accepted += 1
        return {"message-count": str(len(entries)), "messages": entries}


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: requests parsed from the buffer, answered in order."""

    def __init__(self, api: Api, latency: float) -> None:
        self.api = api
        self.latency = latency
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            lines = bytes(self.buffer[:head_end]).decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < head_end + 4 + length:
                return
            body = bytes(self.buffer[head_end + 4:head_end + 4 + length])
            del self.buffer[:head_end + 4 + length]
            status, answer = self.answer(method, target, headers, body)
            close = headers.get("connection", "").lower() == "close"
            payload = json.dumps(answer).encode()
            response = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(payload)}\r\n"
                        f"{'Connection: close' if close else 'Connection: keep-alive'}"
                        "\r\n\r\n").encode() + payload
            if self.latency:
                asyncio.get_running_loop().call_later(self.latency, self.respond, response,
                                                      close)
            else:
                self.respond(response, close)
            if close:
                return

    def respond(self, response: bytes, close: bool) -> None:
        if self.transport.is_closing():
            return
        self.transport.write(response)
        if close:
            self.transport.close()

    def answer(self, method: str, target: str, headers: dict[str, str],
               body: bytes) -> tuple[str, dict]:
        path = target.split("?", 1)[0]
        if method == "POST" and path == "/sms/json":
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            return "200 OK", self.api.sms(form, headers.get("authorization"))
        if method == "GET" and path == "/_bench/count":
            return "200 OK", {"accepted": self.api.accepted}
        if method == "GET" and path == "/account/get-balance":
            return "200 OK", {"value": float(_money(self.api.balance)), "autoReload": False}
        return "404 Not Found", {"error": "not found"}


async def serve(port: int, cert: str, latency: float) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert)
    api = Api()
    server = await asyncio.get_running_loop().create_server(
        lambda: HttpProtocol(api, latency), "127.0.0.1", port, ssl=context, backlog=512)
    await serve_until_stdin_closes(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert", required=True, help="PEM with the key and certificate chain")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds each answer is held back")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.cert, args.latency))


if __name__ == "__main__":
    main()
