"""Where a server is and how to reach it: host, port and connection security."""

from __future__ import annotations

from typing import Literal

from attrs import frozen

Security = Literal["none", "starttls", "ssl"]
"""``none``: plain text; ``starttls``: plain, then upgraded with STARTTLS (or
STLS for POP3); ``ssl``: TLS from the first byte (implicit TLS)."""

SMTP_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "ssl": 465}
"""The usual SMTP port for each security mode."""

POP3_PORTS: dict[str, int] = {"none": 110, "starttls": 110, "ssl": 995}
"""The usual POP3 port for each security mode."""


@frozen
class Endpoint:
    """A server to connect to, and the names the admin configures it by.

    ``service`` (``smtp``, ``pop3``) names the protocol in messages;
    ``settings_prefix`` is where its settings live (``""`` for ``host``,
    ``"pop3."`` for ``pop3.host``), so a hint can say exactly what to edit.
    """

    host: str
    port: int
    security: Security
    service: str = "smtp"
    settings_prefix: str = ""

    def setting(self, name: str) -> str:
        """The full name of one of this server's settings: ``pop3.port``."""
        return self.settings_prefix + name

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"
