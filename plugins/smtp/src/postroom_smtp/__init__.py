"""postroom-smtp: the ``smtp`` provider for postroom.

Registered under the ``postroom`` entry-point group as ``smtp``; the plugin is
``postroom_smtp.plugin``, a ``postroom.Provider``.

For plugins built on it, the pieces are importable from here: build an
``SmtpTransport`` (server ``Endpoint``, ``TlsPolicy``, an ``Authenticator``),
then ``send_batch`` for the send hook and ``check_transport`` for the test
hook; ``explain`` turns any ``SessionError`` into a ``Finding``. A hosted
service that logs in with OAuth2 adds an ``XOAuth2Authenticator`` (tokens
from a ``TokenSource``) and sends with ``send_hosted``.
"""

from postroom_smtp.batch import send_batch
from postroom_smtp.config import Pop3Settings, SmtpConfig
from postroom_smtp.diagnosis import Finding, explain
from postroom_smtp.hosted import PreparedLogin, send_hosted
from postroom_smtp.live_check import check_transport
from postroom_smtp.plugin import plugin
from postroom_smtp.pop_before_smtp import PopBeforeSmtp
from postroom_smtp.refusals import explain_refusal
from postroom_smtp.transport import (
    POP3_PORTS,
    SMTP_PORTS,
    Authenticator,
    Delivery,
    Endpoint,
    Envelope,
    LoginRefused,
    PasswordAuthenticator,
    Reply,
    Security,
    SessionError,
    SessionPrelude,
    SmtpSession,
    SmtpTransport,
    TlsPolicy,
    default_local_hostname,
)
from postroom_smtp.xoauth2 import (
    EXPIRY_MARGIN,
    TokenCache,
    TokenError,
    TokenSource,
    XOAuth2Authenticator,
)

__all__ = [
    "EXPIRY_MARGIN",
    "POP3_PORTS",
    "SMTP_PORTS",
    "Authenticator",
    "Delivery",
    "Endpoint",
    "Envelope",
    "Finding",
    "LoginRefused",
    "PasswordAuthenticator",
    "Pop3Settings",
    "PopBeforeSmtp",
    "PreparedLogin",
    "Reply",
    "Security",
    "SessionError",
    "SessionPrelude",
    "SmtpConfig",
    "SmtpSession",
    "SmtpTransport",
    "TlsPolicy",
    "TokenCache",
    "TokenError",
    "TokenSource",
    "XOAuth2Authenticator",
    "check_transport",
    "default_local_hostname",
    "explain",
    "explain_refusal",
    "plugin",
    "send_batch",
    "send_hosted",
]
