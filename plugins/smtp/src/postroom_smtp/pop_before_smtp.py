"""POP-before-SMTP: log in to the POP3 mailbox right before each SMTP session.

Some older servers relay mail only for addresses that logged in to POP3 a
short while ago. The login reads nothing: no message is listed or fetched.
"""

from __future__ import annotations

import contextlib
import poplib
import ssl
from collections.abc import Callable

from attrs import field, frozen

from postroom import Secret
from postroom_smtp.transport.endpoint import Endpoint
from postroom_smtp.transport.errors import NETWORK_ERRORS, step
from postroom_smtp.transport.network import open_socket
from postroom_smtp.transport.tls import TlsPolicy


class _StagedPOP3(poplib.POP3):
    """``poplib.POP3`` that opens its socket step by step (and with TLS for ``ssl``)."""

    def __init__(self, server: Endpoint, timeout: float,
                 tls_context: Callable[[], ssl.SSLContext]) -> None:
        self._server = server
        self._tls_context = tls_context
        super().__init__(server.host, server.port, timeout)

    def _create_socket(self, timeout):
        # poplib's own extension point, as POP3_SSL uses it.
        implicit_tls = self._server.security == "ssl"
        return open_socket(self._server, timeout, self._tls_context if implicit_tls else None)


@frozen
class PopBeforeSmtp:
    """Logs in to ``server`` as ``username`` and out again; a ``SessionPrelude``."""

    server: Endpoint
    username: str
    password: Secret = field(repr=False)
    timeout: float
    tls: TlsPolicy = field(factory=TlsPolicy)

    @property
    def name(self) -> str:
        return "pop3"

    def run(self) -> str:
        """Log in and out; ``SessionError`` (service ``pop3``) names the step that failed."""
        with step("greeting", self.server):
            mailbox = _StagedPOP3(self.server, self.timeout, self.tls.context)
        try:
            if self.server.security == "starttls":
                with step("tls", self.server):
                    mailbox.stls(self.tls.context())
            with step("login", self.server):
                mailbox.user(self.username)
                mailbox.pass_(self.password.reveal())
            with contextlib.suppress(*NETWORK_ERRORS):
                # The login is what counts; a failed goodbye changes nothing.
                mailbox.quit()
        finally:
            mailbox.close()
        return f"logged in to {self.server} as {self.username} before sending"
