"""What ``validate`` finds offline and what ``test`` finds live."""

from __future__ import annotations

import contextlib

from postroom.endpoints import https_problems
from postroom.live_checks import send_test_sms
from postroom.results import Diagnosis, Problem
from postroom_sms_credit.balance import read_credits
from postroom_sms_credit.client import Gateway
from postroom_sms_credit.config import SmsCreditConfig
from postroom_sms_credit.errors import GatewayError
from postroom_sms_credit.refusals import TOP_UP_HINT
from postroom_sms_credit.sending import send_batch

# The gateway advises submissions well below its limit of 30 000, so that one
# resubmitted after a network failure stays quick.
ADVISED_CHUNK = 4000


def problems(config: SmsCreditConfig) -> list[Problem]:
    """Settings that would leak a secret, lose messages or hide a warning."""
    found = https_problems(config.base_url, config.ca_bundle, "the credentials")
    if config.low_credit_threshold == 0:
        found.append(Problem.warning("low_credit_threshold", "low_credit_threshold is 0: "
                                     "nothing warns before the credits run out",
                                     "set it to what a day of sending takes"))
    if config.chunk_size > ADVISED_CHUNK:
        found.append(Problem.warning("chunk_size", f"{config.chunk_size} messages per request "
                                     f"is above the {ADVISED_CHUNK} the gateway advises",
                                     "a lost answer makes the whole chunk go again; keep "
                                     "chunks smaller"))
    if config.password is not None:
        found.append(Problem.warning("password", "the account's own password is used for the "
                                     "API", "create an API token in the gateway's settings and "
                                     "use token_id and token_secret: a token can be revoked on "
                                     "its own"))
    return found


def live_check(config: SmsCreditConfig, target: str | None) -> Diagnosis:
    """Read the balance (which proves the credentials), then send a test to ``target``."""
    with Gateway(config) as gateway:
        try:
            credits = read_credits(gateway)
        except GatewayError as exc:
            return Diagnosis.failed(exc.stage, exc.category, exc.text, exc.hint)
    facts = {"host": gateway.host, "login": config.login, "balance": credits.detail}
    detail = f"{gateway.host} accepted {config.login}; {credits.detail}"
    if credits.balance < config.credits_per_segment:
        return Diagnosis.failed("credits", "no-credits", f"{detail}: not enough for one message",
                                TOP_UP_HINT, facts, credits)
    if target is None:
        return Diagnosis.passed("auth", detail, facts, credits)
    sent = send_test_sms(target, config.region, lambda batch: send_batch(config, batch), facts)
    if isinstance(sent, Diagnosis):
        return sent
    message, result = sent
    facts.update(to=message.to, message_id=result.provider_id or "",
                 status=result.info.get("status", ""), segments=result.info["segments"])
    # The message went: a balance that cannot be read again is no failure.
    with Gateway(config) as gateway, contextlib.suppress(GatewayError):
        facts["balance_after"] = read_credits(gateway).detail
    return Diagnosis.passed("send", f"{detail}; the test message to {message.to} was accepted",
                            facts, credits)
