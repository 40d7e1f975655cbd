"""Access tokens kept for reuse: one fetch an hour per user, not one per batch.

An access token lasts about an hour, and a worker sends many batches in that
time. ``TOKENS`` keeps each token in this process, by token endpoint, OAuth
client, user and refresh token, until ``EXPIRY_MARGIN`` seconds before it
runs out; a ``TokenSource`` hands out the kept one or fetches a new one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from postroom import Secret
from postroom_gmail.token_endpoint import OAuth2Client, TokenError, request_token

log = logging.getLogger("postroom_gmail")

# A token is renewed this long before it expires, so it never runs out mid-login.
EXPIRY_MARGIN = 60.0

Key = tuple[str, str, str, Secret]


class TokenCache:
    """Access tokens by (token URL, client id, user, refresh token), with their expiry.

    ``clock`` gives the time in seconds (``time.monotonic``); a test may move it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tokens: dict[Key, tuple[Secret, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: Key) -> Secret | None:
        """The kept token, unless it is within ``EXPIRY_MARGIN`` of expiring."""
        with self._lock:
            kept = self._tokens.get(key)
        if kept is None or self.clock() >= kept[1] - EXPIRY_MARGIN:
            return None
        return kept[0]

    def put(self, key: Key, token: Secret, lifetime: float) -> None:
        with self._lock:
            self._tokens[key] = (token, self.clock() + lifetime)

    def drop(self, key: Key) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def __repr__(self) -> str:
        return f"TokenCache(<{len(self._tokens)} tokens>)"


TOKENS = TokenCache()
"""The process's access tokens, shared by every Gmail account it sends for."""


class TokenSource:
    """Access tokens for ``user`` from one OAuth client, through a ``TokenCache``.

    ``timeout`` bounds each request to the token endpoint; ``ca_file`` is a
    PEM file of CA certificates to trust instead of the system's.
    ``last_failure`` is the ``TokenError`` of the latest fetch, if it failed.
    """

    def __init__(self, client: OAuth2Client, user: str, timeout: float,
                 ca_file: Path | None = None, cache: TokenCache = TOKENS) -> None:
        self.client = client
        self.user = user
        self.timeout = timeout
        self.ca_file = ca_file
        self.cache = cache
        self.last_failure: TokenError | None = None

    @property
    def _key(self) -> Key:
        return (self.client.token_url, self.client.client_id, self.user,
                self.client.refresh_token)

    def token(self, *, fresh: bool = False) -> Secret:
        """An access token: the kept one, or with ``fresh`` (or none kept) a new one.

        ``fresh`` also forgets the kept token first, so a token the server
        refused is not offered again. Raises ``TokenError``.
        """
        if fresh:
            self.cache.drop(self._key)
        else:
            kept = self.cache.get(self._key)
            if kept is not None:
                return kept
        try:
            token, lifetime = request_token(self.client, self.timeout, self.ca_file)
        except TokenError as error:
            self.last_failure = error
            log.warning("no access token for %s: %s", self.user, error.finding.detail)
            raise
        self.last_failure = None
        self.cache.put(self._key, token, lifetime)
        log.info("new access token for %s from %s, valid %g s", self.user,
                 self.client.token_url, lifetime)
        return token

    def __repr__(self) -> str:
        return (f"TokenSource(user={self.user!r}, client_id={self.client.client_id!r}, "
                f"token_url={self.client.token_url!r})")
