"""Turning a failure into words for the admin: the step, a category and what to change.

``explain`` reads a ``SessionError`` (a step that failed to open or use a
session); ``postroom_smtp.refusals.explain_refusal`` a message the server
refused. Both return a ``Finding``; the live test shows it as a ``Diagnosis``
and the batch sender uses it to decide between retrying and pausing the account.
"""

from __future__ import annotations

import poplib
import smtplib
import socket
import ssl

from attrs import frozen

from postroom import Diagnosis, SendResult
from postroom_smtp.probes import plain_greeting, speaks_tls
from postroom_smtp.transport.auth import LoginRefused
from postroom_smtp.transport.delivery import Reply
from postroom_smtp.transport.endpoint import POP3_PORTS, SMTP_PORTS, Endpoint
from postroom_smtp.transport.errors import (
    CaFileError,
    ServerClosing,
    SessionError,
    StartTlsNotOffered,
    TlsRequired,
    describe_error,
)
from postroom_smtp.transport.smtp_transport import SmtpTransport

# OpenSSL's verify codes (X509_V_ERR_*) that get their own advice.
_CERT_EXPIRED = 10
_NAME_MISMATCH = {62, 64}  # host name, IP address
# getaddrinfo's "this name does not exist" answers, as opposed to "DNS is down".
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


@frozen
class Finding:
    """What went wrong, for the admin.

    ``stage`` is the step (``dns``, ``connect``, ``tls``, ``auth``, ``pop3``,
    ``send``...), ``category`` a stable key scripts match on, ``detail`` what
    happened and ``hint`` what to change. ``stops_account`` is true when
    nothing sent through the account can work until someone changes its
    settings (a refused password, a wrong port), rather than later by itself.
    """

    stage: str
    category: str
    detail: str
    hint: str
    stops_account: bool

    def diagnosis(self, facts: dict[str, str] | None = None) -> Diagnosis:
        """This finding as a failed ``Diagnosis``."""
        return Diagnosis.failed(self.stage, self.category, self.detail, self.hint, facts)

    def not_sent(self, message_id: str, code: str | None = None, *,
                 maybe_delivered: bool = False) -> SendResult:
        """The result of a message this finding kept from going: ``account_stopped``
        when it stops the account, else ``transient``."""
        text = f"{self.detail}; {self.hint}"
        if self.stops_account:
            return SendResult.account_stopped(message_id, code, text)
        # Flagged for whoever retries it: the recipient may already have this message.
        info = {"maybe_delivered": "true"} if maybe_delivered else {}
        return SendResult.transient(message_id, code, text, info=info)

    def unreachable(self, message_id: str, code: str | None = None) -> SendResult:
        """The result of a message this finding kept from being handed over (no
        session could be opened): ``account_stopped`` when it stops the account,
        else ``unreachable``, which pauses the account as a whole."""
        if self.stops_account:
            return self.not_sent(message_id, code)
        return SendResult.unreachable(message_id, code, f"{self.detail}; {self.hint}")


def _ports(server: Endpoint) -> dict[str, int]:
    return POP3_PORTS if server.service == "pop3" else SMTP_PORTS


def _usual_ports(server: Endpoint) -> str:
    ports = _ports(server)
    if server.service == "pop3":
        return f"usually {ports['starttls']} for plain or STARTTLS, {ports['ssl']} for SSL"
    return (f"usually {ports['starttls']} for STARTTLS, {ports['ssl']} for SSL, "
            f"{ports['none']} for plain")


def _set(server: Endpoint, name: str, value: object) -> str:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return f"{server.setting(name)} = {shown}"


def explain(failure: SessionError, transport: SmtpTransport, *, probe: bool = False) -> Finding:
    """Say what a failed step means and what to change.

    With ``probe``, an ambiguous TLS failure is checked with one more short
    connection (only the live test does this; a batch does not wait for it).
    """
    explainer = {"dns": _dns, "connect": _connect, "tls": _tls, "greeting": _greeting,
                 "hello": _hello, "auth": _auth, "login": _pop3_login}.get(failure.stage, _lost)
    finding = explainer(failure, transport, probe)
    if failure.server.service == "pop3":
        # POP-before-SMTP failures all show as the "pop3" stage, with their own keys.
        return Finding("pop3", f"pop3-{finding.category}", finding.detail, finding.hint,
                       finding.stops_account)
    return finding


def _dns(failure: SessionError, transport: SmtpTransport, probe: bool) -> Finding:
    server, error = failure.server, failure.error
    if isinstance(error, socket.gaierror) and error.errno in _NO_SUCH_NAME:
        return Finding("dns", "host-not-found",
                       f"the server name {server.host!r} does not exist "
                       f"({describe_error(error)})",
                       f"check {server.setting('host')} for typos: it should be your mail "
                       "provider's server name, such as smtp.example.org", True)
    return Finding("dns", "dns-failed",
                   f"could not look up {server.host!r}: {describe_error(error)}",
                   "this machine cannot reach its DNS server: check its network and DNS "
                   "settings, then try again", False)


def _connect(failure: SessionError, transport: SmtpTransport, probe: bool) -> Finding:
    server, error = failure.server, failure.error
    port = server.setting("port")
    if isinstance(error, ConnectionRefusedError):
        return Finding("connect", "connection-refused",
                       f"{server.host} refused the connection on port {server.port}",
                       f"nothing accepts connections on that port: check {port} "
                       f"({_usual_ports(server)}) and that the server is running", False)
    if isinstance(error, TimeoutError):
        return Finding("connect", "connect-timeout",
                       f"{server.host} did not answer on port {server.port} within "
                       f"{transport.timeout:g} s",
                       f"a firewall may block the port, or the port is wrong: check {port} "
                       f"({_usual_ports(server)}) and that outgoing connections to it are "
                       "allowed", False)
    return Finding("connect", "connect-failed",
                   f"cannot connect to {server}: {describe_error(error)}",
                   f"check this machine's network connection and {server.setting('host')}",
                   False)


def _ssl_on_plain_port(server: Endpoint, error: BaseException) -> Finding:
    return Finding("tls", "ssl-on-plain-port",
                   f"{server} answered our TLS hello in plain text ({describe_error(error)})",
                   f"port {server.port} does not speak SSL: set "
                   f"{_set(server, 'security', 'starttls')} for this port, or "
                   f"{_set(server, 'port', _ports(server)['ssl'])} to keep SSL", True)


def _ssl_required(server: Endpoint, detail: str) -> Finding:
    return Finding("tls", "ssl-required", detail,
                   f"port {server.port} expects SSL from the first byte: set "
                   f"{_set(server, 'security', 'ssl')} for this port, or "
                   f"{_set(server, 'port', _ports(server)['starttls'])} with "
                   f"{server.setting('security')} = \"starttls\"", True)


def _tls(failure: SessionError, transport: SmtpTransport, probe: bool) -> Finding:
    server, error = failure.server, failure.error
    detail = f"TLS with {server} failed: {describe_error(error)}"
    if isinstance(error, CaFileError):
        return Finding("tls", "ca-file-unusable", str(error),
                       "point tls_ca_file at a readable PEM file holding the CA certificate",
                       True)
    # poplib says "-ERR STLS not supported by server" with an error_proto.
    if isinstance(error, StartTlsNotOffered | poplib.error_proto):
        return Finding("tls", "starttls-not-offered",
                       f"{server} does not offer STARTTLS",
                       f"if port {server.port} is an SSL port, set "
                       f"{_set(server, 'security', 'ssl')}; otherwise use the STARTTLS port "
                       f"({_usual_ports(server)}); {_set(server, 'security', 'none')} only "
                       "on a network you trust", True)
    if isinstance(error, ssl.SSLCertVerificationError):
        return _certificate(server, error, detail)
    if isinstance(error, smtplib.SMTPResponseException):
        return Finding("tls", "starttls-refused", f"{server} refused STARTTLS: "
                       f"{describe_error(error)}", "the server cannot start TLS right now; "
                       "try again later, or ask its admin", error.smtp_code >= 500)
    if _timed_out(error):
        return Finding("tls", "tls-timeout", f"TLS with {server} did not start within "
                       f"{transport.timeout:g} s ({describe_error(error)})",
                       "the server, or a firewall that inspects mail traffic, stalled the "
                       "TLS setup; postroom tries again later. If this keeps happening, "
                       f"check {server.setting('security')} and {server.setting('port')} "
                       f"({_usual_ports(server)})", False)
    if server.security == "ssl":
        # Our TLS hello reached a plain-text server: OpenSSL reads its greeting
        # as a malformed record ("wrong version number"), or the server hangs up.
        wrong_version = isinstance(error, ssl.SSLError) and error.reason == "WRONG_VERSION_NUMBER"
        if wrong_version or (probe and plain_greeting(server, transport.timeout)):
            return _ssl_on_plain_port(server, error)
    return Finding("tls", "tls-failed", detail,
                   f"check {server.setting('security')} and {server.setting('port')} "
                   f"({_usual_ports(server)})", True)


def _timed_out(error: BaseException) -> bool:
    # smtplib turns a reply that never came (to STARTTLS, say) into
    # SMTPServerDisconnected, with the timeout only as its context.
    return isinstance(error, TimeoutError) or (
        isinstance(error, smtplib.SMTPServerDisconnected)
        and isinstance(error.__context__, TimeoutError))


def _certificate(server: Endpoint, error: ssl.SSLCertVerificationError, detail: str) -> Finding:
    if error.verify_code in _NAME_MISMATCH:
        return Finding("tls", "certificate-name-mismatch", detail,
                       f"the server's certificate is not issued for {server.host!r}: set "
                       f"{server.setting('host')} to the name on the certificate (your "
                       "provider's server name), not an IP address or another alias", True)
    if error.verify_code == _CERT_EXPIRED:
        return Finding("tls", "certificate-expired", detail,
                       "the server's certificate has expired: ask the server's admin to "
                       "renew it", True)
    return Finding("tls", "certificate-untrusted", detail,
                   "the server's certificate is self-signed or from a CA this machine does "
                   "not trust: set tls_ca_file to that CA's certificate (a PEM file); "
                   "tls_verify = false only as a last resort", True)


def _greeting(failure: SessionError, transport: SmtpTransport, probe: bool) -> Finding:
    server, error = failure.server, failure.error
    if isinstance(error, smtplib.SMTPConnectError) and error.smtp_code >= 400:
        refused = error.smtp_code >= 500
        return Finding("connect", "session-refused",
                       f"{server} refused the session: {describe_error(error)}",
                       "the server does not accept mail from this machine: ask its admin "
                       "whether this address may connect" if refused else
                       "the server is busy; try again later", refused)
    detail = (f"{server} accepted the connection but sent no {server.service.upper()} "
              f"greeting ({describe_error(error)})")
    if server.security != "ssl":
        # An implicit-TLS port waits for our TLS hello while we wait for its
        # greeting, until one side gives up.
        usual_ssl_port = server.port == _ports(server)["ssl"]
        if (probe and speaks_tls(server, transport.timeout)) or (not probe and usual_ssl_port):
            return _ssl_required(server, detail + "; it expects TLS right away")
    return Finding("connect", "no-greeting", detail,
                   f"check that port {server.port} is a {server.service.upper()} port "
                   f"({_usual_ports(server)}); if it is, the server is overloaded: try "
                   "again later", False)


def _hello(failure: SessionError, transport: SmtpTransport, probe: bool) -> Finding:
    if not isinstance(failure.error, smtplib.SMTPHeloError):
        return _lost(failure, transport, probe)
    if 400 <= failure.error.smtp_code < 500:
        # A 4xx is "not now" (busy, greylisting new clients): retry, don't pause.
        return Finding("hello", "hello-deferred",
                       f"{failure.server} turned our greeting away for now: "
                       f"{describe_error(failure.error)}",
                       "the server is busy or slowing down new clients; postroom tries "
                       "again later", False)
    return Finding("hello", "hello-refused",
                   f"{failure.server} refused our greeting (EHLO, then HELO): "
                   f"{describe_error(failure.error)}",
                   f"set local_hostname to this machine's full DNS name (now "
                   f"{transport.local_hostname!r})", True)


def tls_required(server: Endpoint, detail: str, stage: str) -> Finding:
    return Finding(stage, "tls-required", detail,
                   "the server wants an encrypted connection first: set "
                   f"{_set(server, 'security', 'starttls')} (port 587) or "
                   f"{_set(server, 'security', 'ssl')} (port 465)", True)


def _auth(failure: SessionError, transport: SmtpTransport, probe: bool) -> Finding:
    server, error = failure.server, failure.error
    # A refused login names the method it tried (one only: see transport.auth).
    method = f" with {error.mechanism}" if isinstance(error, LoginRefused) else ""
    detail = f"login at {server}{method} failed: {describe_error(error)}"
    if isinstance(error, TlsRequired):
        return tls_required(server, f"{server} offers login (AUTH) only after STARTTLS",
                             "auth")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return Finding("auth", "auth-not-offered", f"{server} offers no login (AUTH)",
                       "if this server takes mail from this machine without login, remove "
                       "username and password; otherwise use the submission port 587 with "
                       'security = "starttls"', True)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        code, text = error.smtp_code, Reply.of(error.smtp_code, error.smtp_error).text
        if code == 538 or (code == 530 and "tls" in text.lower()):
            return tls_required(server, detail, "auth")
        if code == 454:
            return Finding("auth", "auth-unavailable", detail,
                           "the server cannot check logins right now; try again later", False)
        assert transport.authenticator is not None  # the auth step runs only with one
        return Finding("auth", "auth-too-weak" if code == 534 else "auth-failed", detail,
                       transport.authenticator.rejected_hint(code, text), True)
    if isinstance(error, smtplib.SMTPException) and not isinstance(
            error, smtplib.SMTPServerDisconnected):
        return Finding("auth", "auth-no-common-method", detail,
                       "the server offers no login method postroom speaks (PLAIN, LOGIN, "
                       "CRAM-MD5): ask its admin to enable one", True)
    return _lost(failure, transport, probe)


def _pop3_login(failure: SessionError, transport: SmtpTransport, probe: bool) -> Finding:
    if not isinstance(failure.error, poplib.error_proto):
        return _lost(failure, transport, probe)
    return Finding("pop3", "login-failed",
                   f"the POP3 server {failure.server} refused the login: "
                   f"{describe_error(failure.error)}",
                   "POP-before-SMTP logs in to the mailbox before sending: check "
                   "pop3.username and pop3.password (they default to username and "
                   "password)", True)


def _lost(failure: SessionError, transport: SmtpTransport, probe: bool) -> Finding:
    server, error = failure.server, failure.error
    if isinstance(error, ServerClosing):
        return Finding(failure.stage, "server-closing",
                       f"{server} is closing the connection: {describe_error(error)}",
                       "the server limits connections or messages per connection; "
                       "postroom tries again later", False)
    if failure.maybe_delivered:
        return Finding(failure.stage, "unconfirmed",
                       f"the connection to {server} broke after the message was sent and "
                       f"before the server confirmed it ({describe_error(error)}); it may "
                       "have been delivered", "check the recipient's mailbox before sending "
                       "it again; if this keeps happening, raise timeout", False)
    return Finding(failure.stage, "connection-lost",
                   f"the connection to {server} broke during {failure.stage}: "
                   f"{describe_error(error)}",
                   "postroom tries again later; if this keeps happening, check the network "
                   "and raise timeout", False)
