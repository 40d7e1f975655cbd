"""The settings of a ``gmail`` account: Gmail's presets, the login, and the limits they imply."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal

from attrs import define

from postroom import Address, ProviderConfig, Secret
from postroom.settings import EmailAddress, Port, PositiveInt, Seconds
from postroom_gmail.login import AppPasswordAuthenticator, GmailLogin, XOAuth2Authenticator
from postroom_gmail.token_endpoint import OAuth2Client
from postroom_gmail.tokens import TokenSource
from postroom_smtp import SMTP_PORTS, Endpoint, SmtpTransport, TlsPolicy, default_local_hostname

PROVIDER = "gmail"
GMAIL_HOST = "smtp.gmail.com"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)
AccountType = Literal["personal", "workspace"]
# Addresses on these domains are personal Google accounts; any other domain on Gmail is Workspace.
PERSONAL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
# Messages a day Google lets each kind of account send (over a rolling 24 hours).
DAILY_LIMITS: Mapping[str, int] = {"personal": 500, "workspace": 2000}
# Recipients (To, Cc and Bcc) one message may have when sent through smtp.gmail.com.
SMTP_RECIPIENT_LIMIT = 100


@define
class OAuth2Settings:
    """``[accounts.NAME.oauth2]``: the OAuth client and the refresh token its user granted."""

    client_id: str
    client_secret: Secret
    refresh_token: Secret
    token_url: str = GOOGLE_TOKEN_URL


@define
class GmailConfig(ProviderConfig):
    """An account that sends through Gmail's SMTP server (see the README for each setting)."""

    provider: ClassVar[str] = PROVIDER
    channel: ClassVar[str] = "email"

    address: EmailAddress
    app_password: Secret | None = None
    oauth2: OAuth2Settings | None = None
    account_type: AccountType | None = None
    security: Literal["ssl", "starttls"] = "ssl"
    host: str = GMAIL_HOST
    port: Port | None = None
    sender_name: str = ""
    reply_to: EmailAddress | None = None
    max_recipients: PositiveInt = SMTP_RECIPIENT_LIMIT
    timeout: Seconds = 30.0
    local_hostname: str | None = None
    tls_ca_file: Path | None = None

    @property
    def kind(self) -> str:
        """``personal`` or ``workspace``: ``account_type``, else read from the address."""
        if self.account_type is not None:
            return self.account_type
        domain = self.address.rpartition("@")[2].lower()
        return "personal" if domain in PERSONAL_DOMAINS else "workspace"

    @property
    def daily_limit(self) -> int:
        """Messages a day Gmail lets this kind of account send."""
        return DAILY_LIMITS[self.kind]

    def limits(self) -> Mapping[str, object]:
        """Gmail's daily limit as the account's daily cap; a lower ``[schedule] daily_cap`` wins."""
        return {"daily_cap": self.daily_limit}

    @property
    def server(self) -> Endpoint:
        """Gmail's SMTP server: 465 for ``ssl``, 587 for ``starttls``, unless ``port`` is set."""
        return Endpoint(self.host, self.port or SMTP_PORTS[self.security], self.security)

    @property
    def from_address(self) -> Address:
        return Address(self.address, self.sender_name)

    @property
    def reply_to_addresses(self) -> tuple[Address, ...]:
        return (Address(self.reply_to),) if self.reply_to else ()

    def login(self) -> GmailLogin:
        """How this account logs in; call it on a config that validates (one credential set)."""
        if self.oauth2 is not None:
            client = OAuth2Client(self.oauth2.token_url, self.oauth2.client_id,
                                  self.oauth2.client_secret, self.oauth2.refresh_token)
            return XOAuth2Authenticator(self.address, TokenSource(
                client, self.address, self.timeout, self.tls_ca_file))
        return AppPasswordAuthenticator(self.address, self.app_password or Secret(""))

    def transport(self, login: GmailLogin) -> SmtpTransport:
        """The SMTP transport to Gmail, logging in with ``login``."""
        # Google's servers have publicly trusted certificates: checking them is not optional
        # here; tls_ca_file exists for a company proxy's CA (and for tests).
        return SmtpTransport(self.server, self.timeout,
                             self.local_hostname or default_local_hostname(),
                             TlsPolicy(True, self.tls_ca_file), login)
