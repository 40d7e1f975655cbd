"""postroom-smtp: the ``smtp`` provider for postroom.

Registered under the ``postroom`` entry-point group as ``smtp``; this module
is the plugin (its hook implementations come from ``postroom_smtp.plugin``).

For plugins built on it, the pieces are importable from here: build an
``SmtpTransport`` (server ``Endpoint``, ``TlsPolicy``, an ``Authenticator``),
then ``send_batch`` for the send hook and ``check_transport`` for the test
hook; ``explain`` turns any ``SessionError`` into a ``Finding``.
"""

from postroom_smtp.batch import send_batch
from postroom_smtp.config import Pop3Settings, SmtpConfig
from postroom_smtp.diagnosis import Finding, explain
from postroom_smtp.live_check import check_transport
from postroom_smtp.plugin import (
    postroom_configure,
    postroom_credits,
    postroom_send,
    postroom_test,
    postroom_validate,
)
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

__all__ = [
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
    "Reply",
    "Security",
    "SessionError",
    "SessionPrelude",
    "SmtpConfig",
    "SmtpSession",
    "SmtpTransport",
    "TlsPolicy",
    "check_transport",
    "default_local_hostname",
    "explain",
    "explain_refusal",
    "postroom_configure",
    "postroom_credits",
    "postroom_send",
    "postroom_test",
    "postroom_validate",
    "send_batch",
]
