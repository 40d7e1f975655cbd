"""Access tokens kept for reuse: one fetch an hour per user, not one per batch.

An access token lasts about an hour, and a worker sends many batches in that
time. ``TOKENS`` keeps each token in this process, by token endpoint, OAuth
client, user and refresh token, until ``EXPIRY_MARGIN`` seconds before it
runs out; the ``TokenSource`` of ``token_source`` hands out the kept one or
fetches a new one (``TokenCache`` and ``TokenSource`` are ``postroom_smtp``'s).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from postroom_gmail.token_endpoint import OAuth2Client, request_token
from postroom_smtp.xoauth2 import EXPIRY_MARGIN, TokenCache, TokenSource

__all__ = ["EXPIRY_MARGIN", "TOKENS", "TokenCache", "TokenSource", "token_source"]

log = logging.getLogger("postroom_gmail")

TOKENS = TokenCache()
"""The process's access tokens, shared by every Gmail account it sends for."""


def token_source(client: OAuth2Client, user: str, timeout: float,
                 ca_file: Path | None = None, cache: TokenCache = TOKENS) -> TokenSource:
    """Access tokens for ``user`` from one OAuth client, kept in ``cache``.

    ``timeout`` bounds each request to the token endpoint; ``ca_file`` is a
    PEM file of CA certificates to trust instead of the system's.
    """
    key = (client.token_url, client.client_id, user, client.refresh_token)
    return TokenSource(functools.partial(request_token, client, timeout, ca_file), key, user,
                       cache, describe=client.token_url, log=log)
