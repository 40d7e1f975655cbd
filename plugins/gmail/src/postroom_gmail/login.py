"""Logging in to Gmail: with an app password, or with an OAuth2 access token (XOAUTH2).

Both are ``postroom_smtp`` authenticators, so the SMTP session logs in with
them; ``rejected_hint`` words Gmail's refusals for the admin. ``prepare``
readies the credential before any connection is opened (for OAuth2: an
access token), so a token problem is reported as one, not as a failed login.
"""

from __future__ import annotations

import smtplib

from attrs import field, frozen

from postroom import Secret
from postroom_smtp import PasswordAuthenticator
from postroom_smtp.hosted import PreparedLogin
from postroom_smtp.xoauth2 import XOAuth2Authenticator as SmtpXOAuth2Authenticator

APP_PASSWORDS = "https://myaccount.google.com/apppasswords"

GmailLogin = PreparedLogin
"""How a Gmail account logs in: an app password, or OAuth2 tokens readied before connecting."""


def _web_sign_in_hint(address: str) -> str:
    # 534 5.7.14: Google holds back a sign-in it finds unusual until a person confirms it.
    return (f"Google wants someone to sign in to {address} in a web browser and confirm this "
            "sign-in first; do that, then test again")


@frozen
class AppPasswordAuthenticator:
    """Log in as ``address`` with an app password (Gmail refuses the account's own password).

    Google shows app passwords in four groups of four letters; the spaces are
    dropped, so the password works however it was pasted.
    """

    address: str
    app_password: Secret = field(repr=False)

    @property
    def identity(self) -> str:
        return self.address

    def prepare(self, *, fresh: bool = False) -> None:
        """Nothing to fetch: the app password is the credential."""

    def authenticate(self, connection: smtplib.SMTP) -> str:
        letters = "".join(self.app_password.reveal().split())
        return PasswordAuthenticator(self.address, Secret(letters, self.app_password.source)
                                     ).authenticate(connection)

    def rejected_hint(self, code: int, text: str) -> str:
        if code == 534 and "5.7.14" in text:
            return _web_sign_in_hint(self.address)
        if code == 534:
            return ("Gmail wants an app password, not the account's own password: turn on "
                    f"2-Step Verification for {self.address}, create an app password at "
                    f"{APP_PASSWORDS} and set app_password to it")
        return (f"Gmail refused {self.address} with this app password: check that address is "
                "the full Gmail address and app_password a current app password (changing "
                "the Google password revokes every app password; create a new one at "
                f"{APP_PASSWORDS})")


@frozen
class XOAuth2Authenticator(SmtpXOAuth2Authenticator):
    """Log in as ``user`` with AUTH XOAUTH2 and an access token from Google's endpoint.

    ``postroom_smtp``'s XOAUTH2 login (a refused token is renewed once), with
    Gmail's refusals worded for the admin.
    """

    def rejected_hint(self, code: int, text: str) -> str:
        failure = self.tokens.last_failure
        if failure is not None:
            return (f"Gmail refused the access token, and a new one could not be had: "
                    f"{failure.finding.detail}; {failure.finding.hint}")
        if code == 534 and "5.7.14" in text:
            return _web_sign_in_hint(self.user)
        return (f"Gmail refused the access token for {self.user}: the refresh token must "
                "have been granted by this very address, with the https://mail.google.com/ "
                "scope; create a new refresh token that way and put it in "
                "oauth2.refresh_token")
