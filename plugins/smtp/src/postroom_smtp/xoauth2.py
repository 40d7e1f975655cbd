"""Logging in with OAuth2 access tokens (AUTH XOAUTH2), and keeping the tokens for reuse.

Hosted mail services (Gmail, Microsoft 365) take an access token instead of
a password. A plugin for one of them supplies how a token is fetched (its
token endpoint, its error readings); the pieces here do the rest:

- ``TokenError``: no token could be had, with a ``Finding`` for the admin.
- ``TokenCache``: tokens kept in the process until shortly before they
  expire, so a worker fetches about one an hour rather than one per batch.
- ``TokenSource``: hands out the kept token or fetches a new one.
- ``XOAuth2Authenticator``: the SMTP login; a token the server refuses is
  renewed once and tried again on the same connection.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable, Hashable

from attrs import field, frozen

from postroom import Secret
from postroom_smtp.diagnosis import Finding
from postroom_smtp.transport.auth import LoginRefused

# A token is renewed this long before it expires, so it never runs out mid-login.
EXPIRY_MARGIN = 60.0


class TokenError(OSError):
    """No access token could be had; ``finding`` says why and what to change.

    An ``OSError`` because it may surface while an SMTP session logs in (on a
    reconnect, when the kept token has run out): the session then reports a
    failed step, as it does for any network trouble, rather than crash.
    """

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.detail)
        self.finding = finding


class TokenCache:
    """Access tokens by key, with their expiry.

    ``clock`` gives the time in seconds (``time.monotonic``); a test may move it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tokens: dict[Hashable, tuple[Secret, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Secret | None:
        """The kept token, unless it is within ``EXPIRY_MARGIN`` of expiring."""
        with self._lock:
            kept = self._tokens.get(key)
        if kept is None or self.clock() >= kept[1] - EXPIRY_MARGIN:
            return None
        return kept[0]

    def put(self, key: Hashable, token: Secret, lifetime: float) -> None:
        with self._lock:
            self._tokens[key] = (token, self.clock() + lifetime)

    def drop(self, key: Hashable) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def __repr__(self) -> str:
        return f"TokenCache(<{len(self._tokens)} tokens>)"


class TokenSource:
    """Access tokens for ``user``, kept in ``cache`` under ``key``.

    ``fetch`` asks the token endpoint for a new token and returns it with its
    lifetime in seconds, or raises ``TokenError``. The key must tell every
    credential apart (endpoint, client, user, refresh token): two accounts
    never share a token by mistake. ``describe`` names the endpoint in logs.
    ``last_failure`` is the ``TokenError`` of the latest fetch, if it failed.
    """

    def __init__(self, fetch: Callable[[], tuple[Secret, float]], key: Hashable, user: str,
                 cache: TokenCache, *, describe: str = "the token endpoint",
                 log: logging.Logger | None = None) -> None:
        self.fetch = fetch
        self.key = key
        self.user = user
        self.cache = cache
        self.describe = describe
        self.log = log or logging.getLogger("postroom_smtp")
        self.last_failure: TokenError | None = None

    def token(self, *, fresh: bool = False) -> Secret:
        """An access token: the kept one, or with ``fresh`` (or none kept) a new one.

        ``fresh`` also forgets the kept token first, so a token the server
        refused is not offered again. Raises ``TokenError``.
        """
        if fresh:
            self.cache.drop(self.key)
        else:
            kept = self.cache.get(self.key)
            if kept is not None:
                return kept
        try:
            token, lifetime = self.fetch()
        except TokenError as error:
            self.last_failure = error
            self.log.warning("no access token for %s: %s", self.user, error.finding.detail)
            raise
        self.last_failure = None
        self.cache.put(self.key, token, lifetime)
        self.log.info("new access token for %s from %s, valid %g s", self.user, self.describe,
                      lifetime)
        return token

    def __repr__(self) -> str:
        return f"TokenSource(user={self.user!r}, from {self.describe})"


@frozen
class _XOAuth2Response:
    """smtplib's ``authobject`` for XOAUTH2: the bearer token first, then an empty answer.

    An empty answer to the server's challenge (a JSON error: the token was
    refused) makes the server send its final 535, which smtplib raises.
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

    A token the server refuses (535) may have been revoked or ended early:
    a fresh one is fetched and tried once more on the same connection. A
    token that cannot be had while logging in (a reconnect after the kept one
    ran out) raises ``TokenError``, which the session reports as a failed
    step of the connection. A plugin derives from it to word
    ``rejected_hint`` for its service.
    """

    user: str
    tokens: TokenSource = field(eq=False)

    @property
    def identity(self) -> str:
        return f"{self.user} (OAuth2)"

    def prepare(self, *, fresh: bool = False) -> None:
        """Have a token at hand before connecting (``fresh``: a new one); raises ``TokenError``."""
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
            return (f"the server refused the access token, and a new one could not be had: "
                    f"{failure.finding.detail}; {failure.finding.hint}")
        return (f"the server refused the access token for {self.user}: the token must be "
                "granted by (or for) this very address, with the scope the service wants "
                "for SMTP")
