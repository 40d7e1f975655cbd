"""What ``validate`` finds offline and what ``test`` finds live."""

from __future__ import annotations

from urllib.parse import urlsplit

from postroom.endpoints import https_problems
from postroom.live_checks import send_test_sms
from postroom.results import Diagnosis, Problem
from postroom_nexmo.balance import read_credits
from postroom_nexmo.client import ApiError, NexmoClient
from postroom_nexmo.config import DEFAULT_RATE_PER_SECOND, NexmoConfig
from postroom_nexmo.sending import send_batch


def problems(config: NexmoConfig) -> list[Problem]:
    """Settings that contradict each other or would leak or lose something."""
    found = https_problems(config.base_url, config.ca_bundle, "the API secret")
    if config.signature_method and not config.signature_secret:
        found.append(Problem.warning("signature_method", "signature_method has no effect "
                                     "without signature_secret",
                                     "set signature_secret, or remove signature_method"))
    if config.rate_per_second > DEFAULT_RATE_PER_SECOND:
        found.append(Problem.warning(
            "rate_per_second", f"{config.rate_per_second:g} requests per second is above the "
            f"provider's default limit of {DEFAULT_RATE_PER_SECOND:g}",
            "keep it only if your account's limit was raised; otherwise requests beyond the "
            "limit come back throttled"))
    if config.receipt_url is not None:
        if urlsplit(config.receipt_url).scheme not in ("http", "https"):
            found.append(Problem.error("receipt_url", f"{config.receipt_url!r} is not a web "
                                       "address", "write it as https://host/path"))
        if not (config.signature_secret or config.webhook_secret):
            found.append(Problem.warning(
                "receipt_url", "delivery receipts cannot be verified without a signature "
                "secret or a webhook secret, so every one will be refused",
                "set signature_secret and turn on signed webhooks in the dashboard, or set "
                "webhook_secret and add ?token=<it> to receipt_url"))
    return found


def live_check(config: NexmoConfig, target: str | None) -> Diagnosis:
    """Read the balance (which proves the credentials), then send a test to ``target``."""
    with NexmoClient(config) as client:
        try:
            credits = read_credits(client)
        except ApiError as exc:
            return Diagnosis.failed(exc.stage, exc.category, exc.text, exc.hint)
        facts = {"host": client.host, "api_key": config.api_key, "balance": credits.detail}
        detail = f"{client.host} accepted api_key {config.api_key!r}; balance {credits.detail}"
    if target is None:
        return Diagnosis.passed("auth", detail, facts, credits)
    sent = send_test_sms(target, config.region, lambda batch: send_batch(config, batch), facts)
    if isinstance(sent, Diagnosis):
        return sent
    message, result = sent
    facts.update(message_id=result.provider_id or "", to=message.to)
    if result.cost is not None:
        facts["price"] = f"{result.cost} {result.currency}"
    if "remaining_balance" in result.info:
        facts["remaining_balance"] = f"{result.info['remaining_balance']} {result.currency}"
    return Diagnosis.passed("send", f"{detail}; the test message to {message.to} was accepted",
                            facts, credits)
