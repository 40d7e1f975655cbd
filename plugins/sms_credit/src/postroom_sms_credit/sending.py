"""Sending a batch: checked locally, posted in chunks, each answer read per message.

Each message becomes one submission entry; ``chunk_size`` entries go in one
POST over the batch's kept-alive session. Every POST carries a deduplication
id made from its content, so the same chunk posted again (after an answer was
lost, now or in a later retry of the same messages) is not charged twice.

- A message longer than ``max_parts`` is refused before anything is sent.
- A chunk the gateway refuses for its content (HTTP 400) is split in halves
  until the message at fault stands alone; the others still go.
- A refusal of the account (out of credits, credentials, throttling, a fault
  of the gateway) ends the batch: the messages not sent come back with the
  same outcome, so out-of-credit messages stay queued, not failed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from decimal import Decimal

import attrs
from attrs import frozen

from postroom.messages import SmsMessage
from postroom.results import Outcome, SendResult
from postroom.sms_text import Segmentation, segment
from postroom_sms_credit.balance import read_credits
from postroom_sms_credit.client import Gateway
from postroom_sms_credit.config import SmsCreditConfig, sender_address
from postroom_sms_credit.errors import GatewayError
from postroom_sms_credit.estimate import UNIT, amount, shortfall
from postroom_sms_credit.statuses import verdict

log = logging.getLogger(__name__)

USER_SUPPLIED_ID_MAX = 20  # the gateway keeps at most 20 characters

_ENCODINGS = {"GSM-7": "TEXT", "UCS-2": "UNICODE"}


def user_supplied_id(message_id: str) -> str:
    """The id the gateway keeps for a message: postroom's id, cut to 20 characters
    (a postroom id is 32 hex digits; 20 of them still tell messages apart)."""
    return message_id[:USER_SUPPLIED_ID_MAX]


@frozen
class Outgoing:
    """One message ready for the gateway: its entry, split and estimated credits."""

    index: int
    message: SmsMessage
    entry: dict
    split: Segmentation
    credits: Decimal

    @property
    def ref(self) -> str:
        return self.entry["userSuppliedId"]

    def info(self) -> dict[str, str]:
        return {"encoding": self.split.encoding, "segments": str(self.split.segments),
                "estimated_credits": amount(self.credits)}


def _refused(message: SmsMessage, code: str, text: str, category: str,
             hint: str) -> SendResult:
    return SendResult.permanent(message.id, code, text,
                                info={"category": category, "hint": hint})


def prepare(config: SmsCreditConfig, index: int, message: SmsMessage) -> Outgoing | SendResult:
    """The submission entry for ``message``, or why it cannot go as it is."""
    split = segment(message.text)
    if config.max_parts is not None and split.segments > config.max_parts:
        return _refused(message, "max_parts",
                        f"the text takes {split.segments} SMS parts ({split.encoding}, "
                        f"{split.units} units); this account allows at most {config.max_parts}",
                        "too-long", "shorten the text (a character outside GSM-7 makes every "
                        "part hold 67 instead of 153), or raise max_parts")
    entry: dict = {"to": message.to, "body": message.text,
                   "encoding": _ENCODINGS[split.encoding],
                   # Without it the gateway cuts a message at its own default of 3 parts.
                   "longMessageMaxParts": config.max_parts or split.segments,
                   "userSuppliedId": user_supplied_id(message.id)}
    sender = config.sender
    if message.sender is not None:
        try:
            sender = sender_address(message.sender, config.region)
        except ValueError as exc:
            return _refused(message, "sender", f"the message's sender: {exc}",
                            "invalid-sender", "correct the sender given with the message")
    if sender is not None:
        # Up to six digits is a short code, which the gateway takes only as an object.
        entry["from"] = {"type": "SHORTCODE", "address": sender} if sender.isdigit() else sender
    return Outgoing(index, message, entry, split, split.segments * config.credits_per_segment)


def deduplication_id(entries: list[dict]) -> int:
    """A positive 31-bit id derived from the submission's content.

    The same entries give the same id, so a chunk posted again is recognised
    by the gateway; different chunks differ in their message ids.
    """
    canonical = json.dumps(entries, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    number = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:4], "big") & 0x7FFFFFFF
    return number or 1


def _failed(outgoing: Outgoing, error: GatewayError, text: str | None = None) -> SendResult:
    info = {**outgoing.info(), "category": error.category, "hint": error.hint}
    return SendResult.failed(error.outcome, outgoing.message.id, error.code, text or error.text,
                             retry_after=error.retry_after, info=info)


def _held(outgoing: Outgoing, cause: GatewayError) -> SendResult:
    return _failed(outgoing, cause, f"not sent: an earlier request of this batch was refused "
                                    f"({cause.text})")


def _answered(outgoing: Outgoing, entry: dict | None) -> SendResult:
    message_id = outgoing.message.id
    if entry is None:
        return SendResult.transient(message_id, None, "the gateway's answer did not mention this "
                                    "message", info={**outgoing.info(), "category": "bad-response",
                                                     "hint": "check that base_url is the API root"})
    found = verdict(entry)
    provider_id = str(entry["id"]) if entry.get("id") is not None else None
    info = {**outgoing.info(), "status": found.status}
    submission = entry.get("submission")
    if isinstance(submission, dict) and submission.get("id"):
        info["submission_id"] = str(submission["id"])
    # Gateways leave creditCost empty in a submission's answer; one that fills it is believed.
    cost = entry.get("creditCost")
    cost = Decimal(str(cost)) if isinstance(cost, int | float | Decimal) else None
    currency = UNIT if cost is not None else None
    if found.taken:
        return SendResult.accepted(message_id, provider_id, cost=cost, currency=currency,
                                   info=info)
    info.update(category=found.category, hint=found.hint)
    return SendResult.permanent(message_id, found.status,
                                f"the gateway did not send it: {found.status}",
                                provider_id=provider_id, cost=cost, currency=currency, info=info)


def read_answer(chunk: list[Outgoing], answer: list[dict]) -> list[SendResult]:
    """Match the gateway's message objects to the chunk's messages.

    By ``userSuppliedId`` when every object carries one, else by position when
    the counts agree; a message matched by neither gets a transient result.
    """
    if answer and all(m.get("userSuppliedId") for m in answer):
        by_ref: dict[str, list[dict]] = {}
        for entry in answer:
            by_ref.setdefault(str(entry["userSuppliedId"]), []).append(entry)
        matched = [by_ref[o.ref].pop(0) if by_ref.get(o.ref) else None for o in chunk]
    elif len(answer) == len(chunk):
        matched = list(answer)
    else:
        matched = [None] * len(chunk)
    return [_answered(o, entry) for o, entry in zip(chunk, matched, strict=True)]


class Submission:
    """Posts the chunks of one batch and remembers the refusal that ended it."""

    def __init__(self, gateway: Gateway, config: SmsCreditConfig) -> None:
        self.gateway = gateway
        self.config = config
        self.halted: GatewayError | None = None

    def send(self, chunk: list[Outgoing]) -> list[SendResult]:
        """Results for ``chunk``, in order; splits it when the gateway refuses its content."""
        if self.halted is not None:
            return [_held(o, self.halted) for o in chunk]
        entries = [o.entry for o in chunk]
        try:
            answer = self._post(entries)
        except GatewayError as error:
            if error.splittable and len(chunk) > 1:
                middle = len(chunk) // 2
                return self.send(chunk[:middle]) + self.send(chunk[middle:])
            if error.batch_wide:
                self.halted = error
            return [_failed(o, error) for o in chunk]
        return read_answer(chunk, answer)

    def _post(self, entries: list[dict]) -> list[dict]:
        """POST once, and again under the same deduplication id when the answer was lost."""
        dedup = deduplication_id(entries)
        attempt = 0
        while True:
            try:
                return self.gateway.submit(entries, dedup)
            except GatewayError as error:
                if not error.maybe_processed or attempt >= self.config.resubmits:
                    raise
                log.info("resubmitting %d messages under deduplication id %d: %s",
                         len(entries), dedup, error.text)
            attempt += 1


def _shortfall_note(gateway: Gateway, stopped: list[Outgoing]) -> str:
    """What out-of-credit results add: how many credits the unsent messages lack."""
    needed = sum((o.credits for o in stopped), Decimal(0))
    try:
        balance = read_credits(gateway).balance
    except GatewayError:
        return ""  # the refusal already says what to do; the numbers are a courtesy
    return (f"; the {len(stopped)} messages not sent need {amount(needed)} credits and the "
            f"account has {amount(balance)}: {amount(shortfall(needed, balance))} missing")


def send_batch(config: SmsCreditConfig,
               messages: Sequence[SmsMessage]) -> Iterator[list[SendResult]]:
    """Send ``messages`` over one session, a chunk per request.

    Yields, as each chunk is answered, the results of the messages up to its
    last one (those refused before sending among them) as one list, in order.
    """
    prepared = [prepare(config, index, message) for index, message in enumerate(messages)]
    ready = [p for p in prepared if isinstance(p, Outgoing)]
    with Gateway(config) as gateway:
        submission = Submission(gateway, config)
        note, done = "", 0
        for start in range(0, len(ready), config.chunk_size):
            chunk = ready[start:start + config.chunk_size]
            answered = dict(zip((o.index for o in chunk), submission.send(chunk), strict=True))
            halted = submission.halted
            if not note and halted is not None and halted.category == "insufficient-credits":
                note = _shortfall_note(gateway, [
                    o for o in chunk if answered[o.index].outcome is Outcome.ACCOUNT_STOPPED
                ] + ready[start + len(chunk):])
            if note:
                answered = {index: attrs.evolve(result, text=result.text + note)
                            if result.outcome is Outcome.ACCOUNT_STOPPED else result
                            for index, result in answered.items()}
            end = chunk[-1].index + 1
            yield [answered[i] if i in answered else prepared[i] for i in range(done, end)]
            done = end
        if done < len(messages):
            yield list(prepared[done:])
