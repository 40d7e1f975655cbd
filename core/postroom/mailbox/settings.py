"""``[accounts.NAME.mailbox]``: the incoming mailbox postroom checks for bounces and replies."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs
from attrs import define

from postroom.results import Problem
from postroom.secrets import Secret
from postroom.settings import Port, PositiveInt, ProviderConfig, Seconds

Protocol = Literal["imap", "pop3"]
Security = Literal["ssl", "starttls", "none"]
# The usual port for each protocol and security mode.
PORTS: dict[tuple[str, str], int] = {("imap", "ssl"): 993, ("imap", "starttls"): 143,
                                     ("imap", "none"): 143, ("pop3", "ssl"): 995,
                                     ("pop3", "starttls"): 110, ("pop3", "none"): 110}


@define
class MailboxSettings:
    """Where the account's incoming mail is, and how postroom reads it.

    ``tls_verify`` and ``tls_ca_file`` default to the account's own (its SMTP
    settings), so one CA setting serves both directions.
    """

    host: str
    username: str
    password: Secret
    protocol: Protocol = "imap"
    security: Security = "ssl"
    port: Port | None = None
    folder: str = "INBOX"
    idle: bool = True
    check_every: Seconds = 300.0
    max_per_check: PositiveInt = 200
    timeout: Seconds = 30.0
    tls_verify: bool | None = None
    tls_ca_file: Path | None = None

    @property
    def server_port(self) -> int:
        return self.port or PORTS[(self.protocol, self.security)]

    @property
    def where(self) -> str:
        return f"{self.protocol.upper()} {self.host}:{self.server_port}"

    def with_account_tls(self, config: ProviderConfig) -> MailboxSettings:
        """These settings with the TLS checks the account's provider settings use, where unset."""
        verify = self.tls_verify if self.tls_verify is not None else getattr(
            config, "tls_verify", True)
        return attrs.evolve(self, tls_verify=verify,
                            tls_ca_file=self.tls_ca_file or getattr(config, "tls_ca_file", None))

    def problems(self) -> list[Problem]:
        """Mistakes found without going online; ``field`` is under ``mailbox.``."""
        found = []
        if self.security == "none":
            found.append(Problem.warning(
                "mailbox.security", "the mailbox password would cross the network unencrypted",
                'set security = "ssl" (port 993 for IMAP, 995 for POP3) or "starttls"'))
        if self.tls_verify is False:
            found.append(Problem.warning(
                "mailbox.tls_verify", "the mailbox server's certificate is not checked",
                "set tls_ca_file to the server's CA certificate instead"))
        if self.tls_ca_file is not None and not self.tls_ca_file.is_file():
            found.append(Problem.error(
                "mailbox.tls_ca_file", f"no CA file at {self.tls_ca_file}",
                "point tls_ca_file at a PEM file holding the CA certificate"))
        if not self.password.reveal():
            found.append(Problem.error("mailbox.password", "the mailbox password is empty",
                                       'set password, for example { env = "MAILBOX_PASSWORD" }'))
        return found
