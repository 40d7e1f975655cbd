"""Logging in to Exchange Online: AUTH XOAUTH2 with a token from the identity platform.

``postroom_smtp``'s XOAUTH2 login (a refused token is renewed once and
tried again on the same connection), with Exchange's refusals worded for
the admin: SMTP AUTH turned off for the tenant or the mailbox, a mailbox
without a licence, an app without access to the mailbox.
"""

from __future__ import annotations

from attrs import field, frozen

from postroom_microsoft365.exchange import Reading, first_match, login_readings
from postroom_microsoft365.identity import EntraGrant
from postroom_smtp import XOAuth2Authenticator


@frozen
class ExchangeLogin(XOAuth2Authenticator):
    """Log in as the mailbox ``user`` with a token from ``tokens``, which ``grant`` gives."""

    grant: EntraGrant = field(eq=False)

    def readings(self) -> list[Reading]:
        """Exchange's login refusals, worded for this mailbox and app."""
        return login_readings(self.user, self.grant.client_id, self.grant.app_only)

    def rejected_hint(self, code: int, text: str) -> str:
        if self.tokens.last_failure is not None:
            return super().rejected_hint(code, text)
        reading = first_match(self.readings(), f"{code} {text}")
        return reading.hint if reading else super().rejected_hint(code, text)
