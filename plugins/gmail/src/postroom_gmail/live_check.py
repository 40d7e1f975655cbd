"""The live test of a Gmail account: the token first, then what the SMTP test checks.

With OAuth2 the refresh token is exchanged for a new access token even when
one is kept: a refresh token that was revoked is exactly what the admin
presses "Test" to find out. Then the SMTP plugin's check connects, logs in
and sends a test message; Gmail's quota refusal gets its own diagnosis.
"""

from __future__ import annotations

import attrs

from postroom import Diagnosis
from postroom_gmail.config import GmailConfig
from postroom_gmail.quota import quota_diagnosis
from postroom_gmail.token_endpoint import TokenError
from postroom_smtp import check_transport


def check(config: GmailConfig, target: str | None) -> Diagnosis:
    """Get a token (OAuth2), connect, log in and send a test message to ``target``."""
    login = config.login()
    facts = {"server": str(config.server), "security": config.security,
             "account type": config.kind,
             "daily cap": f"{config.daily_limit} messages (Gmail's for a {config.kind} account)",
             "recipients per message": str(config.max_recipients)}
    try:
        login.prepare(fresh=True)
    except TokenError as error:
        return error.finding.diagnosis(facts)
    diagnosis = check_transport(config.transport(login), config.from_address, target,
                                config.reply_to_addresses)
    diagnosis = quota_diagnosis(diagnosis, config.kind, config.daily_limit)
    return attrs.evolve(diagnosis, facts={**facts, **diagnosis.facts})
