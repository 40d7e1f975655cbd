"""The settings of a ``microsoft365`` account: Exchange Online's presets, the app, the limits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from attrs import define

from postroom import Address, ProviderConfig, Secret
from postroom.settings import EmailAddress, Port, PositiveInt, Seconds
from postroom_microsoft365.identity import AUTHORITY_HOST, EntraGrant, token_source
from postroom_microsoft365.login import ExchangeLogin
from postroom_smtp import Endpoint, SmtpTransport, TlsPolicy, default_local_hostname

PROVIDER = "microsoft365"
EXCHANGE_HOST = "smtp.office365.com"
SUBMISSION_PORT = 587
# Exchange Online's sending limits per mailbox: messages a minute over SMTP, recipients a
# day (To, Cc and Bcc of every message, over a rolling 24 hours), recipients per message
# (500 unless an admin changed it, at most 1,000).
MESSAGES_PER_MINUTE = 30
RECIPIENTS_PER_DAY = 10_000
RECIPIENTS_PER_MESSAGE = 500
RECIPIENTS_PER_MESSAGE_MAX = 1000


@define
class EntraSettings:
    """``[accounts.NAME.oauth2]``: the app registration, and for a delegated mailbox its grant.

    Without ``refresh_token`` the app sends as itself (client credentials,
    app-only: ``client_secret`` required); with it, as the user who granted it.
    """

    tenant: str
    client_id: str
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    authority_host: str = AUTHORITY_HOST


@define
class Microsoft365Config(ProviderConfig):
    """An account that sends through Exchange Online (see the README for each setting)."""

    provider: ClassVar[str] = PROVIDER
    channel: ClassVar[str] = "email"

    address: EmailAddress
    oauth2: EntraSettings
    sender_name: str = ""
    reply_to: EmailAddress | None = None
    host: str = EXCHANGE_HOST
    port: Port = SUBMISSION_PORT
    max_recipients: PositiveInt = RECIPIENTS_PER_MESSAGE
    timeout: Seconds = 30.0
    local_hostname: str | None = None
    tls_ca_file: Path | None = None

    def limits(self) -> Mapping[str, object]:
        """Exchange Online's limits; a tighter ``[schedule]`` wins, a looser one does not."""
        return {"per_minute": MESSAGES_PER_MINUTE, "daily_cap": RECIPIENTS_PER_DAY}

    @property
    def server(self) -> Endpoint:
        """Exchange Online's submission server: STARTTLS, on 587 unless ``port`` says."""
        return Endpoint(self.host, self.port, "starttls")

    @property
    def grant(self) -> EntraGrant:
        settings = self.oauth2
        return EntraGrant(settings.authority_host, settings.tenant, settings.client_id,
                          settings.client_secret, settings.refresh_token)

    @property
    def from_address(self) -> Address:
        return Address(self.address, self.sender_name)

    @property
    def reply_to_addresses(self) -> tuple[Address, ...]:
        return (Address(self.reply_to),) if self.reply_to else ()

    def login(self) -> ExchangeLogin:
        """The XOAUTH2 login as ``address``; call it on a config that validates."""
        grant = self.grant
        return ExchangeLogin(self.address, token_source(grant, self.address, self.timeout,
                                                        self.tls_ca_file), grant)

    def transport(self, login: ExchangeLogin) -> SmtpTransport:
        """The SMTP transport to Exchange Online, logging in with ``login``."""
        # Microsoft's servers have publicly trusted certificates: checking them is not
        # optional; tls_ca_file exists for a company proxy's CA (and for tests).
        return SmtpTransport(self.server, self.timeout,
                             self.local_hostname or default_local_hostname(),
                             TlsPolicy(True, self.tls_ca_file), login)

