"""An SMTP server on loopback that quotes the client's AUTH data back in its refusal.

Some servers (and proxies in front of them) repeat the line they refuse;
for AUTH that line holds the base64 of ``\\0user\\0password`` (PLAIN) or of
the password alone (LOGIN). postroom must not show or store what such a
server says without blanking it. ``echoed`` keeps every refusal sent, so a
test can check the server really said it.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HOST = "127.0.0.1"


class _Handler(socketserver.StreamRequestHandler):
    def say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def ask(self, prompt: str) -> str:
        self.say(prompt)
        return self.rfile.readline().decode().strip()

    def handle(self) -> None:
        self.say("220 echo.test ESMTP")
        while line := self.rfile.readline().decode().strip():
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                self.say("250-echo.test\r\n250-AUTH PLAIN LOGIN\r\n250 OK")
            elif verb == "AUTH" and argument.upper().startswith("PLAIN"):
                data = argument[6:] or self.ask("334 ")
                self.refuse(f"535 5.7.8 authentication failed for {data}")
            elif verb == "AUTH" and argument.upper().startswith("LOGIN"):
                user = self.ask("334 VXNlcm5hbWU6")
                password = self.ask("334 UGFzc3dvcmQ6")
                self.refuse(f"535 5.7.8 no such login: {user} {password}")
            elif verb == "QUIT":
                self.say("221 bye")
                return
            else:
                self.say("250 OK")

    def refuse(self, line: str) -> None:
        self.server.echoed.append(line)
        self.say(line)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _Handler)
        self.echoed: list[str] = []


@contextmanager
def auth_echo_smtp() -> Iterator[_Server]:
    """Run the server for the ``with`` block; ``server.server_address[1]`` is its port."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="auth-echo-smtp", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
