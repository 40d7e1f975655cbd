"""The settings of an ``smtp`` account, and the transport they describe."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from attrs import define, field

from postroom import Address, ProviderConfig, Secret
from postroom.settings import EmailAddress, InvalidSetting, Port, Seconds
from postroom_smtp.pop_before_smtp import PopBeforeSmtp
from postroom_smtp.transport.auth import PasswordAuthenticator
from postroom_smtp.transport.endpoint import POP3_PORTS, SMTP_PORTS, Endpoint, Security
from postroom_smtp.transport.network import default_local_hostname
from postroom_smtp.transport.smtp_transport import SmtpTransport
from postroom_smtp.transport.tls import TlsPolicy

PROVIDER = "smtp"


def server_name(value: str) -> str:
    """A ``host`` setting, refused when it carries a login (``user:password@``): the
    error must not echo it, since the password is in it."""
    if isinstance(value, str) and "@" in value:
        raise InvalidSetting("host", "expected the server's name only, without a user name "
                             "or password (user:password@): put those in username and "
                             "password")
    return value


@define
class Pop3Settings:
    """POP-before-SMTP: the mailbox to log in to before each SMTP session.

    ``host``, ``username`` and ``password`` default to the account's own;
    ``port`` to 110 (``none``, ``starttls``) or 995 (``ssl``).
    """

    host: str | None = field(default=None, converter=server_name)
    port: Port | None = None
    security: Security = "starttls"
    username: str | None = None
    password: Secret | None = None


@define
class SmtpConfig(ProviderConfig):
    """An account that sends through an SMTP server (see the README for each setting)."""

    provider: ClassVar[str] = PROVIDER
    channel: ClassVar[str] = "email"

    host: str = field(converter=server_name)
    sender_email: EmailAddress
    port: Port | None = None
    security: Security = "starttls"
    username: str | None = None
    password: Secret | None = None
    sender_name: str = ""
    reply_to: EmailAddress | None = None
    timeout: Seconds = 30.0
    local_hostname: str | None = None
    tls_verify: bool = True
    tls_ca_file: Path | None = None
    pop3: Pop3Settings | None = None

    @property
    def server(self) -> Endpoint:
        """The SMTP server, with the usual port for the security mode when none is set."""
        return Endpoint(self.host, self.port or SMTP_PORTS[self.security], self.security)

    @property
    def pop3_server(self) -> Endpoint | None:
        """The POP3 server for POP-before-SMTP, or ``None`` when it is not used."""
        if self.pop3 is None:
            return None
        return Endpoint(self.pop3.host or self.host,
                        self.pop3.port or POP3_PORTS[self.pop3.security],
                        self.pop3.security, service="pop3", settings_prefix="pop3.")

    @property
    def pop3_username(self) -> str | None:
        """The POP3 user name: ``pop3.username``, else ``username``."""
        return None if self.pop3 is None else self.pop3.username or self.username

    @property
    def pop3_password(self) -> Secret | None:
        """The POP3 password: ``pop3.password``, else ``password``."""
        return None if self.pop3 is None else self.pop3.password or self.password

    @property
    def from_address(self) -> Address:
        return Address(self.sender_email, self.sender_name)

    @property
    def reply_to_addresses(self) -> tuple[Address, ...]:
        return (Address(self.reply_to),) if self.reply_to else ()

    def transport(self) -> SmtpTransport:
        """The transport these settings describe; call it on a config that validates."""
        tls = TlsPolicy(self.tls_verify, self.tls_ca_file)
        authenticator = (PasswordAuthenticator(self.username, self.password)
                         if self.username and self.password else None)
        pop3_server = self.pop3_server
        # Missing POP3 credentials are a validate error; sent empty, the server's
        # refusal tells the same story.
        before = () if pop3_server is None else (PopBeforeSmtp(
            pop3_server, self.pop3_username or "", self.pop3_password or Secret(""),
            self.timeout, tls),)
        return SmtpTransport(self.server, self.timeout,
                             self.local_hostname or default_local_hostname(), tls,
                             authenticator, before)
