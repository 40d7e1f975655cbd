"""What can go wrong while talking to a mail server, and at which step.

Every network step runs inside ``step(stage, server)``: an error there comes
out as one ``SessionError`` that says which server, which step, and what
happened, so the diagnosis and the batch sender decide from facts rather than
from exception text.
"""

from __future__ import annotations

import poplib
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postroom_smtp.transport.endpoint import Endpoint


class TransportError(Exception):
    """A problem this package detects itself (not raised by smtplib or ssl)."""


class TlsRequired(TransportError):
    """The server wants an encrypted connection before login or mail."""


class StartTlsNotOffered(TransportError):
    """``security = "starttls"`` but the server does not offer STARTTLS."""


class CaFileError(TransportError):
    """The configured CA certificate file cannot be used."""


class ServerClosing(smtplib.SMTPResponseException):
    """The server answered 421: it is closing the connection."""


# What a network step may raise for reasons outside our code; anything else is a bug.
NETWORK_ERRORS = (OSError, smtplib.SMTPException, poplib.error_proto, TransportError)


class SessionError(Exception):
    """A step of talking to ``server`` failed.

    ``stage`` is the step: ``dns``, ``connect``, ``tls``, ``greeting``,
    ``hello`` (EHLO), ``auth``, ``login`` (POP3) or ``send``. ``error`` is
    the original exception. ``maybe_delivered`` is true when the connection
    broke after a whole message was sent but before the server confirmed it,
    so it must not be sent again blindly.
    """

    def __init__(self, stage: str, error: BaseException, server: Endpoint, *,
                 maybe_delivered: bool = False) -> None:
        self.stage = stage
        self.error = error
        self.server = server
        self.maybe_delivered = maybe_delivered
        super().__init__(f"{server.service} {stage} step with {server} failed: "
                         f"{describe_error(error)}")


@contextmanager
def step(stage: str, server: Endpoint, *, maybe_delivered: bool = False) -> Iterator[None]:
    """Run a network step; its failure becomes a ``SessionError`` for ``stage``."""
    try:
        yield
    except NETWORK_ERRORS as error:
        raise SessionError(stage, error, server, maybe_delivered=maybe_delivered) from error


def reply_code(error: BaseException) -> int | None:
    """The SMTP reply code an error carries, if any."""
    return error.smtp_code if isinstance(error, smtplib.SMTPResponseException) else None


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def describe_error(error: BaseException) -> str:
    """One line for people: the server's reply, or what the network said."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}".strip()
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}"
    if isinstance(error, socket.gaierror):
        return f"name lookup failed: {error.strerror}"
    if isinstance(error, TimeoutError):
        return str(error) if str(error) not in ("", "timed out") else "timed out"
    if isinstance(error, poplib.error_proto):
        return _text(error.args[0]) if error.args else "POP3 protocol error"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
