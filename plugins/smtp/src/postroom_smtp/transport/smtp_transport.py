"""``SmtpTransport``: everything needed to open a logged-in SMTP session.

A provider plugin turns its config into one of these; the session, the batch
sender and the live check take it from there. The SMTP plugin builds it from
its own settings; another plugin (a hosted provider with fixed servers and
OAuth2) builds it from presets and its own authenticator.
"""

from __future__ import annotations

from typing import Protocol

from attrs import field, frozen

from postroom_smtp.transport.auth import Authenticator
from postroom_smtp.transport.endpoint import Endpoint
from postroom_smtp.transport.tls import TlsPolicy


class SessionPrelude(Protocol):
    """A step run right before each SMTP session is opened (POP-before-SMTP).

    ``name`` labels it in a diagnosis's facts. ``run`` does the step and
    returns a short description of what it did; it raises ``SessionError``
    when the step fails.
    """

    @property
    def name(self) -> str: ...

    def run(self) -> str: ...


@frozen
class SmtpTransport:
    """How to reach one SMTP server and log in.

    ``timeout`` bounds every network wait, in seconds. ``local_hostname`` is
    the name sent with EHLO. ``authenticator`` is ``None`` for servers that
    take mail without login. ``before_session`` steps run before every
    connection, reconnects included.
    """

    server: Endpoint
    timeout: float
    local_hostname: str
    tls: TlsPolicy = field(factory=TlsPolicy)
    authenticator: Authenticator | None = None
    before_session: tuple[SessionPrelude, ...] = ()
