"""Sending a batch: one request per message, the API's answer read part by part.

A long text goes as one request; the API splits it and answers with one
entry per part. The message counts as accepted only when every part is; its
cost is the sum of the parts' prices. Requests of a batch share one session
and go out ``connections`` at a time. ``rate_per_second`` is declared to the
store (``NexmoConfig.limits``), which spaces every worker's claims under it.
When the account itself is refused (credentials, credit, suspension) the
messages not yet sent stay unsent, with a result that says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation

from postroom.messages import SmsMessage
from postroom.results import Outcome, SendResult
from postroom.sms_text import Segmentation, segment
from postroom_nexmo.client import ApiError, NexmoClient
from postroom_nexmo.config import NexmoConfig, normalise_sender
from postroom_nexmo.statuses import OK, status_for

CURRENCY = "EUR"  # the API prices messages and keeps balances in euros

# When parts of one message fail differently, the gravest decides.
_GRAVITY = [Outcome.ACCOUNT_STOPPED, Outcome.PERMANENT, Outcome.THROTTLED, Outcome.TRANSIENT]


def sms_form(config: NexmoConfig, message: SmsMessage, split: Segmentation) -> dict[str, str]:
    """The form fields of one message, credentials left to the client."""
    sender = config.sender if message.sender is None else normalise_sender(message.sender,
                                                                           config.region)
    form = {"from": sender, "to": message.to.removeprefix("+"), "text": message.text,
            "client-ref": message.id}
    if split.encoding == "UCS-2":
        form["type"] = "unicode"
    if config.receipt_url:
        form["status-report-req"] = "1"
        form["callback"] = config.receipt_url
    return form


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def read_reply(message_id: str, reply: dict, split: Segmentation) -> SendResult:
    """Turn the API's JSON answer for one message into its ``SendResult``."""
    entries = reply.get("messages")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict)
                                                               for e in entries):
        return SendResult.transient(message_id, None, "the API's answer has no messages list",
                                    info={"category": "bad-response",
                                          "hint": "check that base_url is the SMS API's host"})
    accepted = [e for e in entries if str(e.get("status")) == OK]
    failed = [e for e in entries if str(e.get("status")) != OK]
    ids = [str(e["message-id"]) for e in accepted if e.get("message-id")]
    prices = [p for p in (_decimal(e.get("message-price")) for e in accepted) if p is not None]
    info = {"parts": str(len(entries)), "encoding": split.encoding,
            "segments": str(split.segments)}
    if ids:
        info["message_ids"] = ",".join(ids)
    last = accepted[-1] if accepted else {}
    balance = _decimal(last.get("remaining-balance"))
    if balance is not None:
        info["remaining_balance"] = str(balance)
    if last.get("network"):
        info["network"] = str(last["network"])
    cost = sum(prices, Decimal(0)) if prices else None
    provider_id = ids[0] if ids else None
    if not failed:
        return SendResult.accepted(message_id, provider_id, cost=cost, currency=CURRENCY,
                                   info=info)
    statuses = [status_for(str(e.get("status"))) for e in failed]
    worst = min(statuses, key=lambda s: _GRAVITY.index(s.outcome))
    error_text = next((str(e.get("error-text")) for e, s in zip(failed, statuses, strict=True)
                       if s is worst and e.get("error-text")), "")
    text = f"{worst.name} (status {worst.code})" + (f": {error_text}" if error_text else "")
    if accepted:
        text += (f"; {len(accepted)} of {len(entries)} parts were accepted, so a retry sends "
                 "them again")
    info.update(category=worst.category, hint=worst.hint)
    retry_after = 1.0 if worst.outcome is Outcome.THROTTLED else None
    return SendResult.failed(worst.outcome, message_id, worst.code, text,
                             provider_id=provider_id, cost=cost,
                             currency=CURRENCY if cost is not None else None, info=info,
                             retry_after=retry_after)


def send_one(client: NexmoClient, message: SmsMessage) -> SendResult:
    """Send one message and read the answer; network trouble becomes a result."""
    split = segment(message.text)
    try:
        form = sms_form(client.config, message, split)
    except ValueError as exc:
        return SendResult.permanent(message.id, "sender", f"the message's sender: {exc}",
                                    info={"category": "invalid-sender",
                                          "hint": "correct the sender given with the message"})
    try:
        reply = client.send_sms(form)
    except ApiError as exc:
        return SendResult.failed(exc.outcome, message.id, exc.code, exc.text,
                                 retry_after=exc.retry_after,
                                 info={"category": exc.category, "hint": exc.hint})
    return read_reply(message.id, reply, split)


def stops_the_batch(result: SendResult) -> bool:
    """True when the answer refuses the account, not just this message."""
    if result.ok or result.code is None:
        return False
    return result.code == "HTTP 401" or status_for(result.code).account_wide


def _unsent(message: SmsMessage, cause: SendResult) -> SendResult:
    """The result of a message held back after the account was refused."""
    text = (f"not sent: an earlier message of this batch was refused for the whole account "
            f"({cause.text})")
    # Out of credit pauses the account; anything else is retried once the admin fixes it.
    outcome = (Outcome.ACCOUNT_STOPPED if cause.outcome is Outcome.ACCOUNT_STOPPED
               else Outcome.TRANSIENT)
    info = {key: cause.info[key] for key in ("category", "hint") if key in cause.info}
    return SendResult.failed(outcome, message.id, cause.code, text, info=info)


def send_batch(config: NexmoConfig,
               messages: Sequence[SmsMessage]) -> Iterator[list[SendResult]]:
    """Send ``messages`` over one session, ``connections`` requests at a time.

    Yields the results of each such wave as one list, in order, once all its
    requests are answered: the engine may stop between waves without leaving
    a request it has no answer for. Pacing is the store's (``limits``).
    """
    width = min(config.connections, len(messages)) or 1
    with NexmoClient(config) as client, ThreadPoolExecutor(
            width, thread_name_prefix="postroom-nexmo") as pool:
        cause: SendResult | None = None
        for start in range(0, len(messages), width):
            wave = messages[start:start + width]
            if cause is not None:  # the account was refused: nothing more is sent
                yield [_unsent(message, cause) for message in wave]
                continue
            results = list(pool.map(lambda message: send_one(client, message), wave))
            cause = next((r for r in results if stops_the_batch(r)), None)
            yield results
