"""Logging in on an open SMTP connection: a pluggable step.

A session calls ``authenticator.authenticate(connection)`` once per
connection, after EHLO and STARTTLS. Anything that can log in on an
``smtplib.SMTP`` connection can be an authenticator: user name and password
here; an OAuth2 (XOAUTH2) token elsewhere, built on ``connection.auth``.

A wrong password costs one failed login per connection, not one per method:
smtplib's ``login`` goes on to the next method after a refusal, so each try
with a bad password counted two or three times towards the server's lockout.
"""

from __future__ import annotations

import smtplib
from typing import Protocol

from attrs import field, frozen

from postroom import Secret


class Authenticator(Protocol):
    """Logs in on an open connection.

    ``identity`` names who logs in (safe to show: a user name, never a
    secret). ``authenticate`` returns the AUTH method it logged in with (or
    None), and raises what smtplib raises: ``SMTPAuthenticationError`` for a
    refused login, best a ``LoginRefused`` that names the method.
    ``rejected_hint`` tells the admin what to change when the server refused
    the login.
    """

    @property
    def identity(self) -> str: ...

    def authenticate(self, connection: smtplib.SMTP) -> str | None: ...

    def rejected_hint(self, code: int, text: str) -> str: ...


class LoginRefused(smtplib.SMTPAuthenticationError):
    """The server refused the login; ``mechanism`` is the AUTH method that was tried."""

    def __init__(self, code: int, text: bytes | str, mechanism: str) -> None:
        super().__init__(code, text)
        self.mechanism = mechanism


# The methods a password logs in with, in smtplib's order of preference:
# CRAM-MD5 keeps the password itself off the wire.
PASSWORD_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")
_UNKNOWN_MECHANISM = 504


def login(connection: smtplib.SMTP, username: str, password: str) -> str:
    """Log in with the first password method the server offers; returns its name.

    One refusal ends the login (``LoginRefused``): trying the next method
    with the same password would only fail again and count once more. The
    next method is tried only when the server answers that it does not know
    the one it offered (504).
    """
    connection.ehlo_or_helo_if_needed()
    if not connection.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("the server offers no login (AUTH)")
    offered = connection.esmtp_features["auth"].upper().split()
    mechanisms = [name for name in PASSWORD_MECHANISMS if name in offered]
    if not mechanisms:
        raise smtplib.SMTPException("no login method postroom speaks; the server offers "
                                    + " ".join(offered))
    # smtplib's auth_* methods read the credentials from the connection.
    connection.user, connection.password = username, password
    try:
        for mechanism in mechanisms:
            try:
                connection.auth(mechanism, getattr(
                    connection, "auth_" + mechanism.lower().replace("-", "_")))
            except smtplib.SMTPAuthenticationError as refused:
                refusal = LoginRefused(refused.smtp_code, refused.smtp_error, mechanism)
                if refused.smtp_code != _UNKNOWN_MECHANISM:
                    break
            else:
                return mechanism
        raise refusal
    finally:
        connection.user = connection.password = ""


@frozen
class PasswordAuthenticator:
    """AUTH with a user name and password: CRAM-MD5, PLAIN or LOGIN, one try."""

    username: str
    password: Secret = field(repr=False)

    @property
    def identity(self) -> str:
        return self.username

    def authenticate(self, connection: smtplib.SMTP) -> str:
        return login(connection, self.username, self.password.reveal())

    def rejected_hint(self, code: int, text: str) -> str:
        if code == 534:
            return ("the server refuses this way of logging in for this account: "
                    "create an app password for it (accounts with two-step login "
                    "need one) or allow SMTP login in the mailbox settings")
        return (f"the server refused user name {self.username!r} with this password: "
                "check username and password (many servers want the full email address "
                "as user name)")
