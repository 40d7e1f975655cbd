"""postroom-microsoft365: the ``microsoft365`` provider for postroom.

Registered under the ``postroom`` entry-point group as ``microsoft365``;
this module is the plugin (its hooks come from ``postroom_microsoft365.plugin``).
Mail goes through the ``postroom_smtp`` transport to Exchange Online
(``smtp.office365.com:587``, STARTTLS), logging in with XOAUTH2 and access
tokens from the Microsoft identity platform, fetched with MSAL and kept in
``TOKENS``. Exchange Online's limits reach the scheduler through
``Microsoft365Config.schedule_defaults()``.
"""

from postroom_microsoft365.config import EntraSettings, Microsoft365Config
from postroom_microsoft365.identity import TOKENS, EntraGrant, request_token, token_source
from postroom_microsoft365.login import ExchangeLogin
from postroom_microsoft365.plugin import (
    postroom_configure,
    postroom_credits,
    postroom_send,
    postroom_test,
    postroom_validate,
)

__all__ = [
    "TOKENS",
    "EntraGrant",
    "EntraSettings",
    "ExchangeLogin",
    "Microsoft365Config",
    "postroom_configure",
    "postroom_credits",
    "postroom_send",
    "postroom_test",
    "postroom_validate",
    "request_token",
    "token_source",
]
