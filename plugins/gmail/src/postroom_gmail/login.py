"""Logging in to Gmail: with an app password, or with an OAuth2 access token (XOAUTH2).

Both are ``postroom_smtp`` authenticators, so the SMTP session logs in with
them; ``rejected_hint`` words Gmail's refusals for the admin. ``prepare``
readies the credential before any connection is opened (for OAuth2: an
access token), so a token problem is reported as one, not as a failed login.
"""

from __future__ import annotations

import smtplib
from typing import Protocol

from attrs import field, frozen

from postroom import Secret
from postroom_gmail.token_endpoint import TokenError
from postroom_gmail.tokens import TokenSource
from postroom_smtp import Authenticator, LoginRefused, PasswordAuthenticator

APP_PASSWORDS = "https://myaccount.google.com/apppasswords"


class GmailLogin(Authenticator, Protocol):
    """An ``Authenticator`` whose credential can be readied before connecting."""

    def prepare(self, *, fresh: bool = False) -> None:
        """Have the credential at hand; ``fresh`` renews what can be renewed.

        Raises ``TokenError`` when it cannot be had.
        """
        ...


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
class _XOAuth2Response:
    """smtplib's ``authobject`` for XOAUTH2: the bearer token first, then an empty answer.

    An empty answer to Gmail's JSON challenge (the token was refused) makes
    the server send its final 535, which smtplib raises.
    """

    user: str
    token: Secret = field(repr=False)

    def __call__(self, challenge: bytes | None = None) -> str:
        if challenge is not None:
            return ""
        return f"user={self.user}\x01auth=Bearer {self.token.reveal()}\x01\x01"


@frozen
class XOAuth2Authenticator:
    """Log in as ``user`` with AUTH XOAUTH2 and an access token from ``tokens``.

    A token the server refuses (535, after its 334 challenge) may have been
    revoked or ended early: the authenticator fetches a fresh one and tries
    once more on the same connection. A token that cannot be had while
    logging in (a reconnect after the kept one ran out) raises ``TokenError``,
    which the session reports as a failed step of the connection.
    """

    user: str
    tokens: TokenSource = field(eq=False)

    @property
    def identity(self) -> str:
        return f"{self.user} (OAuth2)"

    def prepare(self, *, fresh: bool = False) -> None:
        self.tokens.token(fresh=fresh)

    def authenticate(self, connection: smtplib.SMTP) -> str:
        if not connection.has_extn("auth"):
            raise smtplib.SMTPNotSupportedError("the server offers no login (AUTH)")
        offered = connection.esmtp_features["auth"].upper().split()
        if "XOAUTH2" not in offered:
            raise smtplib.SMTPException("the server offers no XOAUTH2 login, only "
                                        + " ".join(offered))
        try:
            self._login(connection, self.tokens.token())
        except smtplib.SMTPAuthenticationError as refused:
            if refused.smtp_code != 535:
                raise
            try:
                token = self.tokens.token(fresh=True)
            except TokenError:
                raise refused from None  # the server's refusal stands; rejected_hint says why
            self._login(connection, token)
        return "XOAUTH2"

    def _login(self, connection: smtplib.SMTP, token: Secret) -> None:
        try:
            connection.auth("XOAUTH2", _XOAuth2Response(self.user, token),
                            initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as refused:
            raise LoginRefused(refused.smtp_code, refused.smtp_error, "XOAUTH2") from None

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
