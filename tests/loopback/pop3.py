"""A small real POP3 server on loopback: logins only, for POP-before-SMTP.

It speaks enough POP3 for a client to log in (CAPA, STLS, USER, PASS, NOOP,
QUIT), over plain text, STLS or implicit TLS. It holds no mail: every other
command is answered ``-ERR`` and counted, so a test can check that a client
read nothing. ``PopLoginRequired`` makes a loopback SMTP server relay only
after a POP3 login, as POP-before-SMTP servers do.
"""

from __future__ import annotations

import socketserver
import ssl
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Literal

from attrs import define, frozen

from loopback.smtp import Action, Answer, Command

HOST = "127.0.0.1"
_IDLE_TIMEOUT = 10.0  # seconds a session may sit idle, so a stuck client frees its thread


class _Pop3Session(socketserver.StreamRequestHandler):
    server: _Pop3Server

    def setup(self) -> None:
        self.request.settimeout(_IDLE_TIMEOUT)
        if self.server.security == "ssl":
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True)
        super().setup()

    def _send(self, *lines: str) -> None:
        self.wfile.write("".join(line + "\r\n" for line in lines).encode())
        self.wfile.flush()

    def _start_tls(self) -> None:
        self._send("+OK Begin TLS negotiation")
        self.connection = self.server.tls_context.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb")

    def handle(self) -> None:
        state = self.server.state
        self._send("+OK loopback POP3 ready")
        user = None
        tls = self.server.security == "ssl"
        while raw := self.rfile.readline():  # rfile changes after STLS
            command, _, argument = raw.decode("utf-8", "replace").strip().partition(" ")
            command = command.upper()
            state.count(command)
            if command == "CAPA":
                offers = ["USER"] + (["STLS"] if self.server.security == "starttls" and not tls
                                     else [])
                self._send("+OK capabilities follow", *offers, ".")
            elif command == "STLS" and self.server.security == "starttls" and not tls:
                self._start_tls()
                tls = True
            elif command == "USER":
                user = argument
                self._send("+OK send PASS")
            elif command == "PASS":
                if user is not None and state.users.get(user) == argument:
                    state.logged_in(user)
                    self._send("+OK logged in, mailbox empty")
                else:
                    state.refused()
                    self._send("-ERR [AUTH] invalid user name or password")
            elif command == "NOOP":
                self._send("+OK")
            elif command == "QUIT":
                self._send("+OK bye")
                return
            else:
                self._send(f"-ERR {command} not supported here")


class _Pop3Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: LoopbackPop3State, security: str,
                 tls_context: ssl.SSLContext | None) -> None:
        self.state = state
        self.security = security
        self.tls_context = tls_context
        super().__init__((HOST, 0), _Pop3Session)

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-session (or speaks no TLS) is what some tests do.
        self.state.count("(broken session)")


class LoopbackPop3State:
    """What the POP3 server saw; thread-safe, sessions run in threads."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = dict(users)
        self.logins: list[str] = []
        self.failed_logins = 0
        self.commands: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, command: str) -> None:
        with self._lock:
            self.commands[command] += 1

    def logged_in(self, user: str) -> None:
        with self._lock:
            self.logins.append(user)

    def refused(self) -> None:
        with self._lock:
            self.failed_logins += 1


@define
class LoopbackPop3:
    """A running loopback POP3 server: where it is and what it saw."""

    host: str
    port: int
    state: LoopbackPop3State

    @property
    def logins(self) -> list[str]:
        return self.state.logins

    @property
    def commands(self) -> Counter[str]:
        return self.state.commands


@frozen
class PopLoginRequired:
    """SMTP fault: refuse MAIL on the n-th connection unless n POP3 logins happened.

    That is POP-before-SMTP as a server enforces it: every SMTP session must
    follow a fresh POP3 login.
    """

    pop3: LoopbackPop3
    reply: str = "554 5.7.1 Relay access denied: log in with POP3 first"

    def __call__(self, command: Command) -> Action | None:
        if command.name == "MAIL" and len(self.pop3.logins) < command.connection:
            return Answer(self.reply)
        return None


@contextmanager
def running_pop3(*, users: Mapping[str, str],
                 security: Literal["none", "starttls", "ssl"] = "none",
                 tls_context: ssl.SSLContext | None = None) -> Iterator[LoopbackPop3]:
    """Run a POP3 server on 127.0.0.1 for the ``with`` block; ``users`` maps names to passwords."""
    if security != "none" and tls_context is None:
        raise ValueError(f"security {security!r} needs a server tls_context")
    state = LoopbackPop3State(users)
    server = _Pop3Server(state, security, tls_context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="loopback pop3", daemon=True)
    thread.start()
    try:
        yield LoopbackPop3(HOST, server.server_address[1], state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
