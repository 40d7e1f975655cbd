"""The live test of a Microsoft 365 account: a fresh token first, then what the SMTP test checks.

The token is always fetched anew, even with one kept: a secret that expired
or a consent withdrawn is exactly what the admin presses "Test" to find
out. Then the SMTP plugin's check connects, logs in and sends a test
message; Exchange's refusals get their own categories and hints.
"""

from __future__ import annotations

import attrs

from postroom import Diagnosis
from postroom_microsoft365 import exchange
from postroom_microsoft365.config import Microsoft365Config
from postroom_smtp import TokenError, check_transport


def check(config: Microsoft365Config, target: str | None) -> Diagnosis:
    """Get a token, connect, log in and send a test message to ``target``."""
    login = config.login()
    grant = config.grant
    limits = config.limits()
    facts = {"server": str(config.server), "tenant": grant.tenant,
             "app": grant.client_id,
             "sign-in": "app-only (client credentials)" if grant.app_only
             else "delegated (refresh token)",
             "limits": f"{limits['per_minute']} messages a minute, "
                       f"{limits['daily_cap']} a day (Exchange Online's), "
                       f"{config.max_recipients} recipients a message"}
    try:
        login.prepare(fresh=True)
    except TokenError as error:
        return error.finding.diagnosis(facts)
    found = check_transport(config.transport(login), config.from_address, target,
                            config.reply_to_addresses)
    found = exchange.diagnosis(found, login.readings())
    return attrs.evolve(found, facts={**facts, **found.facts})
