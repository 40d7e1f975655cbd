"""``SmtpSession``: one SMTP connection, opened once and reused for many messages."""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
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
# The most one send hands over: a TLS record's worth, so that a send that fails
# has handed over nothing the server can read.
_WRITE_SIZE = 16384


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
    for the step that failed. ``deliver`` sends one envelope (and, to a
    server that offers PIPELINING, the first commands of the next one along
    with its content). ``facts``
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
        # The envelope whose MAIL, RCPT and DATA went out with the previous
        # message's content; their replies are still to be read.
        self._announced: Envelope | None = None

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
        # Commands and content go out as soon as they are written: with Nagle's
        # algorithm a write that follows another unanswered one waits for an ACK.
        with contextlib.suppress(OSError):
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connection = connection
        self._announced = None
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
            method = authenticator.authenticate(connection)
        self.facts["login"] = f"as {authenticator.identity}"
        if method:
            self.facts["login method"] = method

    def deliver(self, envelope: Envelope, following: Envelope | None = None,
                meanwhile: Callable[[], object] | None = None) -> Delivery:
        """Send one envelope over the open connection.

        A refusal comes back as a ``Delivery``. A lost connection, a timeout
        or a 421 raise ``SessionError`` (stage ``send``) and close the session;
        its ``maybe_delivered`` is true if the whole message had been sent.
        ``following`` is the envelope the caller delivers next: a server that
        offers PIPELINING gets its commands right behind this content, so
        the two messages share a round trip. The next ``deliver`` must then
        be for ``following``. ``meanwhile`` is work of the caller's that is
        done while the server handles the message, once its content is sent
        (such as building the envelope after ``following``).
        """
        if self._announced is not None and self._announced is not envelope:
            raise RuntimeError("SmtpSession.deliver() must be called for the envelope "
                               "announced as following")
        with self._in_use("deliver") as connection:
            return self._transact(connection, envelope, following, meanwhile)

    def check_envelope(self, sender: str, recipient: str) -> Delivery:
        """MAIL and RCPT, then RSET instead of DATA: how the server answers this
        envelope (many check the sender only at RCPT), with nothing sent.

        ``accepted`` when it took both; errors as ``deliver``'s.
        """
        with self._in_use("check_envelope") as connection, step("send", self.transport.server):
            mail = self._answer(connection.mail(sender))
            if mail.code != 250:
                return Delivery(False, "MAIL", mail)
            answer = self._answer(connection.rcpt(recipient))
            self._reset(connection)
        taken = answer.code in (250, 251)
        return Delivery(taken, "RCPT", answer, {} if taken else {recipient: answer})

    @contextlib.contextmanager
    def _in_use(self, method: str) -> Iterator[_StagedSMTP]:
        """The open connection; a ``SessionError`` while using it closes the session."""
        connection = self._connection
        if connection is None:
            raise RuntimeError(f"SmtpSession.{method}() called before open()")
        try:
            yield connection
        except SessionError:
            self._connection = None
            self._announced = None
            connection.close()
            raise

    def _transact(self, connection: _StagedSMTP, envelope: Envelope,
                  following: Envelope | None,
                  meanwhile: Callable[[], object] | None) -> Delivery:
        server = self.transport.server
        pipelining = connection.has_extn("pipelining")
        group = b""
        if pipelining and following is not None:
            # Made now: an address that cannot be written fails in its own turn.
            with contextlib.suppress(UnicodeEncodeError):
                group = self._group(connection, following)
        with step("send", server):
            if pipelining:
                mail, answers, data = self._pipelined(connection, envelope)
            else:
                mail, answers, data = self._lockstep(connection, envelope)
            if mail.code != 250:
                return Delivery(False, "MAIL", mail)
            refused = {recipient: answer
                       for recipient, answer in zip(envelope.recipients, answers, strict=True)
                       if answer.code not in (250, 251)}
            if len(refused) == len(envelope.recipients):
                self._reset(connection)
                # A recipient refused for now may work later: report that one.
                replies = list(refused.values())
                return Delivery(False, "RCPT", next((r for r in replies if r.transient),
                                                    replies[0]), refused)
            if data.code != 354:
                self._reset(connection)
                return Delivery(False, "DATA", data, refused)
        # DATA by hand rather than smtplib's data(): a failure while sending
        # means the server has no message, one while awaiting the reply
        # means it may have it, and only the first is safe to send again.
        content = _dot_stuffed(envelope.data)
        # The content's end and the next message's commands leave in one write,
        # so the server reads them together and answers them together. Sent
        # apart, the server answers the content alone and its next answer waits
        # (Nagle's algorithm) for our delayed ACK: 40 ms a message over TLS.
        self._write(connection, content + group, len(content))
        if group:
            self._announced = following
        if meanwhile is not None:
            meanwhile()
        with step("send", server, maybe_delivered=True):
            code, text = connection.getreply()
        with step("send", server):
            reply = self._answer((code, text))
        return Delivery(reply.code == 250, "DATA", reply, refused)

    def _write(self, connection: _StagedSMTP, payload: bytes, content_end: int) -> None:
        """Write ``payload``, whose first ``content_end`` bytes are a message's
        content, ending with its end-of-data line.

        Each send hands over at most a TLS record's worth, and the end-of-data
        line leaves in the same send as what follows it (the next commands),
        so the server reads them together. A send that fails hands over
        nothing of its own: the server may have the message
        (``maybe_delivered``) only if its end went in an earlier send.
        """
        sock, view, sent = connection.sock, memoryview(payload), 0
        # "\r\n.\r\n" ends the content; a payload that needs several sends is cut
        # before it, never between it and the next commands.
        together_from = content_end - 5 if len(view) > _WRITE_SIZE else 0
        while sent < len(view):
            until = together_from if sent < together_from else len(view)
            with step("send", self.transport.server, maybe_delivered=sent >= content_end):
                sent += sock.send(view[sent:min(sent + _WRITE_SIZE, until)])

    def _lockstep(self, connection: _StagedSMTP,
                  envelope: Envelope) -> tuple[Reply, list[Reply], Reply]:
        """MAIL, each RCPT, DATA, each awaiting its reply; stops at the first refusal
        that ends the transaction. Returns the MAIL, RCPT and DATA replies."""
        mail = self._answer(connection.mail(envelope.sender,
                                            self._mail_options(connection, envelope)))
        if mail.code != 250:
            return mail, [], mail
        answers = [self._answer(connection.rcpt(recipient)) for recipient in envelope.recipients]
        if all(answer.code not in (250, 251) for answer in answers):
            return mail, answers, answers[0]
        return mail, answers, self._answer(connection.docmd("DATA"))

    def _pipelined(self, connection: _StagedSMTP,
                   envelope: Envelope) -> tuple[Reply, list[Reply], Reply]:
        """MAIL, every RCPT and DATA in one write, then their replies (RFC 2920).

        One round trip instead of two or more: the server answers the group
        in order. A server that still says 354 to DATA when it refused the
        sender or every recipient gets an empty message, which it refuses or
        which goes nowhere, so the session stays in step.
        """
        if self._announced is envelope:
            self._announced = None  # its commands went out with the previous message
        else:
            connection.send(self._group(connection, envelope))
        mail = self._answer(connection.getreply())
        answers = [self._answer(connection.getreply()) for _ in envelope.recipients]
        data = self._answer(connection.getreply())
        if data.code == 354 and (mail.code != 250 or all(
                answer.code not in (250, 251) for answer in answers)):
            connection.send(b".\r\n")
            self._answer(connection.getreply())
        return mail, answers, data

    def _group(self, connection: _StagedSMTP, envelope: Envelope) -> bytes:
        """MAIL, every RCPT and DATA of ``envelope``, to be written at once."""
        options = self._mail_options(connection, envelope)
        # The addresses were checked when the message was made: bare addresses
        # without spaces or line breaks, so smtplib's quoteaddr (a full address
        # parse each) has nothing to do but add the brackets.
        lines = [f"MAIL FROM:<{envelope.sender}>" + "".join(f" {option}" for option in options)]
        lines += [f"RCPT TO:<{recipient}>" for recipient in envelope.recipients]
        lines.append("DATA")
        return "".join(f"{line}\r\n" for line in lines).encode(connection.command_encoding)

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
        announced, self._announced = self._announced, None
        if connection is None:
            return
        if announced is not None:
            # The server may be waiting for a message's content: a QUIT would
            # become part of it. Hanging up drops the unfinished message.
            connection.close()
            return
        with contextlib.suppress(*NETWORK_ERRORS):
            connection.quit()
        connection.close()
