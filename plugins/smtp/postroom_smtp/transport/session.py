"""``SmtpSession``: one SMTP connection, opened once and reused for many messages."""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from types import TracebackType

from postroom_smtp.transport.delivery import Delivery, Reply
from postroom_smtp.transport.envelope import Envelope
from postroom_smtp.transport.errors import (
    NETWORK_ERRORS,
    ServerClosing,
    SessionError,
    StartTlsNotOffered,
    TlsRequired,
    step,
)
from postroom_smtp.transport.network import open_socket
from postroom_smtp.transport.smtp_transport import SmtpTransport

log = logging.getLogger("postroom_smtp")

_LINE_START_DOT = re.compile(rb"^\.", re.MULTILINE)


class _StagedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` that opens its socket step by step and keeps the greeting."""

    def __init__(self, transport: SmtpTransport,
                 tls_context: Callable[[], ssl.SSLContext]) -> None:
        self._transport = transport
        self._tls_context = tls_context
        self.greeting = Reply(0, "")
        super().__init__(transport.server.host, transport.server.port,
                         local_hostname=transport.local_hostname, timeout=transport.timeout)

    def _get_socket(self, host, port, timeout):
        # smtplib's own extension point, as SMTP_SSL and LMTP use it.
        implicit_tls = self._transport.server.security == "ssl"
        return open_socket(self._transport.server, timeout,
                           self._tls_context if implicit_tls else None)

    def connect(self, host="localhost", port=0, source_address=None):
        code, text = super().connect(host, port, source_address)
        self.greeting = Reply.of(code, text)
        return code, text


def _dot_stuffed(data: bytes) -> bytes:
    """DATA payload: leading dots doubled, CRLF-ended, with the final dot line."""
    data = _LINE_START_DOT.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class SmtpSession:
    """One connection to a transport's server, reused for a whole batch.

    ``open`` runs the steps before the session (POP-before-SMTP), connects,
    says EHLO, upgrades with STARTTLS and logs in, raising ``SessionError``
    for the step that failed. ``deliver`` sends one envelope. ``facts``
    collects what opening learned (greeting, TLS version, login) and
    ``connections`` counts connections opened, reconnects included. As a
    context manager it closes with QUIT.
    """

    def __init__(self, transport: SmtpTransport) -> None:
        self.transport = transport
        self.facts: dict[str, str] = {}
        self.connections = 0
        self._connection: _StagedSMTP | None = None
        self._context: ssl.SSLContext | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._connection is not None

    def _tls_context(self) -> ssl.SSLContext:
        # Built on first use, inside the "tls" step so a bad CA file is reported
        # there, then kept for reconnects.
        if self._context is None:
            self._context = self.transport.tls.context()
        return self._context

    def ensure_open(self) -> None:
        """Open the connection unless it is open."""
        if self._connection is None:
            self.open()

    def open(self) -> None:
        """Connect and log in; ``SessionError`` names the step that failed."""
        for prelude in self.transport.before_session:
            self.facts[prelude.name] = prelude.run()
        with step("greeting", self.transport.server):
            connection = _StagedSMTP(self.transport, self._tls_context)
        try:
            self._negotiate(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self.connections += 1
        log.info("connected to %s (security %s), tls %s, login %s", self.transport.server,
                 self.transport.server.security, self.facts["tls"], self.facts["login"])

    def _negotiate(self, connection: _StagedSMTP) -> None:
        server = self.transport.server
        self.facts["greeting"] = str(connection.greeting)
        with step("hello", server):
            connection.ehlo_or_helo_if_needed()
        if server.security == "starttls":
            with step("tls", server):
                if not connection.has_extn("starttls"):
                    raise StartTlsNotOffered(f"{server} does not offer STARTTLS")
                connection.starttls(context=self._tls_context())
            with step("hello", server):
                connection.ehlo_or_helo_if_needed()
        sock = connection.sock
        encrypted = isinstance(sock, ssl.SSLSocket)
        self.facts["tls"] = f"{sock.version()} ({sock.cipher()[0]})" if encrypted else "none"
        authenticator = self.transport.authenticator
        if authenticator is None:
            self.facts["login"] = "none"
            return
        with step("auth", server):
            offers = connection.has_extn
            if not encrypted and not offers("auth") and offers("starttls"):
                raise TlsRequired("the server offers login (AUTH) only after STARTTLS")
            authenticator.authenticate(connection)
        self.facts["login"] = f"as {authenticator.identity}"

    def deliver(self, envelope: Envelope) -> Delivery:
        """Send one envelope over the open connection.

        A refusal comes back as a ``Delivery``. A lost connection, a timeout
        or a 421 raise ``SessionError`` (stage ``send``) and close the session;
        its ``maybe_delivered`` is true if the whole message had been sent.
        """
        connection = self._connection
        if connection is None:
            raise RuntimeError("SmtpSession.deliver() called before open()")
        try:
            return self._transact(connection, envelope)
        except SessionError:
            self._connection = None
            connection.close()
            raise

    def _transact(self, connection: _StagedSMTP, envelope: Envelope) -> Delivery:
        server = self.transport.server
        with step("send", server):
            reply = self._answer(connection.mail(envelope.sender,
                                                 self._mail_options(connection, envelope)))
            if reply.code != 250:
                return Delivery(False, "MAIL", reply)
            refused = {}
            for recipient in envelope.recipients:
                answer = self._answer(connection.rcpt(recipient))
                if answer.code not in (250, 251):
                    refused[recipient] = answer
            if len(refused) == len(envelope.recipients):
                self._reset(connection)
                # A recipient refused for now may work later: report that one.
                replies = list(refused.values())
                return Delivery(False, "RCPT", next((r for r in replies if r.transient),
                                                    replies[0]), refused)
            reply = self._answer(connection.docmd("DATA"))
            if reply.code != 354:
                self._reset(connection)
                return Delivery(False, "DATA", reply, refused)
            # DATA by hand rather than smtplib's data(): a failure while sending
            # means the server has no message, one while awaiting the reply
            # means it may have it, and only the first is safe to send again.
            connection.send(_dot_stuffed(envelope.data))
        with step("send", server, maybe_delivered=True):
            code, text = connection.getreply()
        with step("send", server):
            reply = self._answer((code, text))
        return Delivery(reply.code == 250, "DATA", reply, refused)

    @staticmethod
    def _answer(pair: tuple[int, bytes]) -> Reply:
        reply = Reply.of(*pair)
        if reply.code == 421:
            raise ServerClosing(reply.code, reply.text)
        return reply

    @staticmethod
    def _mail_options(connection: _StagedSMTP, envelope: Envelope) -> list[str]:
        if not connection.does_esmtp:
            return []
        options = []
        if connection.has_extn("size"):
            options.append(f"SIZE={len(envelope.data)}")
        if not envelope.data.isascii() and connection.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        return options

    def _reset(self, connection: _StagedSMTP) -> None:
        """End a refused transaction so the next message starts clean."""
        code, _ = connection.rset()
        if code != 250:
            # State unknown: start the next message on a fresh connection.
            connection.close()
            self._connection = None

    def close(self) -> None:
        """Say QUIT and close. The server may be gone already; that is fine."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(*NETWORK_ERRORS):
            connection.quit()
        connection.close()
