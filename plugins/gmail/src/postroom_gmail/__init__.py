"""postroom-gmail: the ``gmail`` provider for postroom.

Registered under the ``postroom`` entry-point group as ``gmail``; this module
is the plugin (its hooks come from ``postroom_gmail.plugin``). Mail goes
through the ``postroom_smtp`` transport with Gmail's presets, logging in with
an app password or with OAuth2 (XOAUTH2, access tokens from Google's token
endpoint kept in ``TOKENS``). The account type's daily limit reaches the
scheduler through ``GmailConfig.schedule_defaults()``.
"""

from postroom_gmail.config import GmailConfig, OAuth2Settings
from postroom_gmail.login import AppPasswordAuthenticator, GmailLogin, XOAuth2Authenticator
from postroom_gmail.plugin import (
    postroom_configure,
    postroom_credits,
    postroom_send,
    postroom_test,
    postroom_validate,
)
from postroom_gmail.token_endpoint import OAuth2Client, TokenError, request_token
from postroom_gmail.tokens import TOKENS, TokenCache, TokenSource, token_source

__all__ = [
    "TOKENS",
    "AppPasswordAuthenticator",
    "GmailConfig",
    "GmailLogin",
    "OAuth2Client",
    "OAuth2Settings",
    "TokenCache",
    "TokenError",
    "TokenSource",
    "XOAuth2Authenticator",
    "postroom_configure",
    "postroom_credits",
    "postroom_send",
    "postroom_test",
    "postroom_validate",
    "request_token",
    "token_source",
]
