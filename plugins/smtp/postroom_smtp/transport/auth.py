"""Logging in on an open SMTP connection: a pluggable step.

A session calls ``authenticator.authenticate(connection)`` once per
connection, after EHLO and STARTTLS. Anything that can log in on an
``smtplib.SMTP`` connection can be an authenticator: user name and password
here; an OAuth2 (XOAUTH2) token elsewhere, built on ``connection.auth``.
"""

from __future__ import annotations

import smtplib
from typing import Protocol

from attrs import field, frozen

from postroom import Secret


class Authenticator(Protocol):
    """Logs in on an open connection.

    ``identity`` names who logs in (safe to show: a user name, never a
    secret). ``authenticate`` raises what smtplib raises
    (``SMTPAuthenticationError`` for a refused login). ``rejected_hint``
    tells the admin what to change when the server refused the login.
    """

    @property
    def identity(self) -> str: ...

    def authenticate(self, connection: smtplib.SMTP) -> None: ...

    def rejected_hint(self, code: int, text: str) -> str: ...


@frozen
class PasswordAuthenticator:
    """AUTH with a user name and password (smtplib picks CRAM-MD5, PLAIN or LOGIN)."""

    username: str
    password: Secret = field(repr=False)

    @property
    def identity(self) -> str:
        return self.username

    def authenticate(self, connection: smtplib.SMTP) -> None:
        connection.login(self.username, self.password.reveal())

    def rejected_hint(self, code: int, text: str) -> str:
        if code == 534:
            return ("the server refuses this way of logging in for this account: "
                    "create an app password for it (accounts with two-step login "
                    "need one) or allow SMTP login in the mailbox settings")
        return (f"the server refused user name {self.username!r} with this password: "
                "check username and password (many servers want the full email address "
                "as user name)")
