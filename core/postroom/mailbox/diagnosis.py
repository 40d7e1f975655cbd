"""What a failed mailbox step means, and what the admin changes: a ``Diagnosis``.

The same style as the SMTP test: a stage, a stable category, what happened
and a hint naming the setting (``mailbox.port``) to change.
"""

from __future__ import annotations

import imaplib
import poplib
import re
import socket
import ssl

from postroom.mailbox.servers import MailboxError
from postroom.mailbox.settings import PORTS, MailboxSettings
from postroom.results import Diagnosis

_NAME_MISMATCH = {62, 64}  # OpenSSL: host name, IP address
_EXPIRED = 10
# Dovecot ends its replies with how long it took ("(0.001 + 0.000 secs)."): noise to an
# admin, and it makes two answers to the same fault differ.
_SERVER_TIMING = re.compile(r"\s*\(\d+\.\d+(?: \+ \d+\.\d+)* secs\)")


def _text(error: BaseException) -> str:
    if isinstance(error, imaplib.IMAP4.error | poplib.error_proto) and error.args:
        said = error.args[0]
        text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
        return _SERVER_TIMING.sub("", text)
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message}"
    if isinstance(error, socket.gaierror | OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _usual(settings: MailboxSettings) -> str:
    protocol = settings.protocol
    return (f"usually {PORTS[(protocol, 'ssl')]} for SSL, {PORTS[(protocol, 'starttls')]} "
            "for STARTTLS")


def explain(failure: MailboxError, settings: MailboxSettings,
            facts: dict[str, str] | None = None) -> Diagnosis:
    """The diagnosis of a failed mailbox step."""
    error, where = failure.error, settings.where
    said = _text(error)

    def failed(stage: str, category: str, detail: str, hint: str) -> Diagnosis:
        return Diagnosis.failed(f"mailbox-{stage}", category, detail, hint, facts)

    if isinstance(error, socket.gaierror):
        return failed("dns", "host-not-found", f"cannot look up the mailbox server "
                      f"{settings.host!r}: {said}", "check mailbox.host for typos (such as "
                      "imap.example.org) and this machine's DNS")
    if isinstance(error, ConnectionRefusedError):
        return failed("connect", "connection-refused", f"{where} refused the connection",
                      f"check mailbox.port ({_usual(settings)}) and that the server runs")
    if isinstance(error, ssl.SSLCertVerificationError):
        if error.verify_code in _NAME_MISMATCH:
            hint = (f"the certificate is not issued for {settings.host!r}: set mailbox.host "
                    "to the name on the certificate")
            category = "certificate-name-mismatch"
        elif error.verify_code == _EXPIRED:
            hint, category = ("the server's certificate has expired: ask its admin to renew "
                              "it"), "certificate-expired"
        else:
            hint = ("the certificate is self-signed or from a CA this machine does not trust: "
                    "set mailbox.tls_ca_file (or the account's tls_ca_file) to that CA's PEM "
                    "file")
            category = "certificate-untrusted"
        return failed("tls", category, f"TLS with {where} failed: {said}", hint)
    if isinstance(error, ssl.SSLError) and settings.security == "ssl":
        return failed("tls", "ssl-on-plain-port", f"{where} does not speak TLS from the "
                      f"first byte ({said})", "set mailbox.security = \"starttls\" for this "
                      f"port, or mailbox.port to the SSL port ({_usual(settings)})")
    if isinstance(error, TimeoutError):
        hint = f"a firewall may block the port, or the port is wrong ({_usual(settings)})"
        if settings.security != "ssl" and settings.server_port == PORTS[(settings.protocol,
                                                                         "ssl")]:
            hint = "this port expects TLS from the first byte: set mailbox.security = \"ssl\""
        return failed(failure.stage, "timeout", f"{where} did not answer within "
                      f"{settings.timeout:g} s at the {failure.stage} step", hint)
    if failure.stage == "tls":
        return failed("tls", "starttls-failed", f"STARTTLS with {where} failed: {said}",
                      "if the port is an SSL port set mailbox.security = \"ssl\"; otherwise "
                      "check that the server offers STARTTLS")
    if failure.stage == "login":
        return failed("login", "login-failed", f"{where} refused the login of "
                      f"{settings.username!r}: {said}",
                      "check mailbox.username and mailbox.password (many servers want the "
                      "full email address as the user name; some want an app password)")
    if failure.stage == "folder":
        return failed("folder", "folder-not-found", f"{where} has no folder "
                      f"{settings.folder!r}: {said}", "set mailbox.folder to a folder that "
                      "exists (the inbox is \"INBOX\")")
    return failed(failure.stage, "connection-lost", f"reading {where} failed at the "
                  f"{failure.stage} step: {said}", "postroom checks again later; if this "
                  "keeps happening, check the server and raise mailbox.timeout")
