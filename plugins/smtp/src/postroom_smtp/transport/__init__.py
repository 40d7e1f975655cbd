"""The reusable SMTP transport: connect step by step, log in, send over one session.

Another provider plugin (a hosted service with fixed servers and its own
login) builds an ``SmtpTransport`` from its settings and an ``Authenticator``
of its own, then uses ``SmtpSession`` directly or ``postroom_smtp.send_batch``.
"""

from postroom_smtp.transport.auth import Authenticator, LoginRefused, PasswordAuthenticator
from postroom_smtp.transport.delivery import Delivery, Reply
from postroom_smtp.transport.endpoint import POP3_PORTS, SMTP_PORTS, Endpoint, Security
from postroom_smtp.transport.envelope import Envelope
from postroom_smtp.transport.errors import SessionError
from postroom_smtp.transport.network import default_local_hostname
from postroom_smtp.transport.session import SmtpSession
from postroom_smtp.transport.smtp_transport import SessionPrelude, SmtpTransport
from postroom_smtp.transport.tls import TlsPolicy

__all__ = [
    "POP3_PORTS",
    "SMTP_PORTS",
    "Authenticator",
    "Delivery",
    "Endpoint",
    "Envelope",
    "LoginRefused",
    "PasswordAuthenticator",
    "Reply",
    "Security",
    "SessionError",
    "SessionPrelude",
    "SmtpSession",
    "SmtpTransport",
    "TlsPolicy",
    "default_local_hostname",
]
