"""Webhook calls from the gateway: status reports and received messages.

The gateway posts a JSON array of message objects, shaped as its message
list answers them, with an ``X-BulkSMS-Event`` header saying
``status-report`` (for messages sent: ``type`` ``SENT``, with their new
``status``) or ``incoming-message`` (``type`` ``RECEIVED``: a text sent to
the account's number, with ``relatedSentMessageId`` when it answers one).
Addresses and bodies come as plain strings or as objects (``{"address":
...}``, ``{"value": ...}``), and a status as ``{"type", "subtype"}`` or
``{"condition", "final"}``: both are read.

The gateway signs nothing, so a call proves itself with the account's
``webhook_secret`` in the address (``?token=`` or ``user:secret@``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from postroom.addresses import phone_number
from postroom.inbound import DeliveryReport, InboundEvent, InboundMessage, Received
from postroom.webhooks import RequestError, WebhookRequest, shared_secret_problem
from postroom_sms_credit.config import SmsCreditConfig
from postroom_sms_credit.estimate import UNIT
from postroom_sms_credit.statuses import TAKEN, verdict

EVENT_HEADER = "X-BulkSMS-Event"
KINDS = {"RECEIVED": "incoming-message", "SENT": "status-report"}


def _text(value: object, key: str) -> str | None:
    """A field given as a string, or as an object holding it under ``key``."""
    if isinstance(value, dict):
        value = value.get(key)
    return None if value in (None, "") else str(value)


def _number(value: object) -> str:
    address = _text(value, "address") or ""
    try:
        return phone_number(address if address.startswith("+") else "+" + address)
    except ValueError:
        return address  # a short code or a sender id


def _time(*values: object) -> datetime | None:
    for value in values:
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                continue
    return None


def _report(item: dict) -> DeliveryReport:
    status = item.get("status") if isinstance(item.get("status"), dict) else {}
    kind = str(status.get("type") or status.get("condition") or "").upper()
    found = verdict({"status": {**status, "type": kind}})
    state = ("delivered" if kind == "DELIVERED" else "pending" if kind in TAKEN or not kind
             else "failed")
    try:
        cost = Decimal(str(item["creditCost"])) if item.get("creditCost") is not None else None
    except InvalidOperation:
        cost = None
    reason = "" if state != "failed" else str(status.get("cause") or found.category)
    return DeliveryReport(state=state, provider_id=_text(item.get("id"), "id"),
                          status=found.status, reason=reason, cost=cost,
                          currency=UNIT if cost is not None else None,
                          recipient=_number(item.get("to")),
                          at=_time(status.get("date"), item.get("submission", {}).get("date")
                                   if isinstance(item.get("submission"), dict) else None),
                          info={"hint": found.hint} if found.hint else {})


def _inbound(item: dict) -> InboundMessage:
    return InboundMessage(sender=_number(item.get("from")), recipient=_number(item.get("to")),
                          text=_text(item.get("body"), "value") or "",
                          at=_time(item.get("receivedDate"),
                                   (item.get("status") or {}).get("date")
                                   if isinstance(item.get("status"), dict) else None),
                          provider_id=_text(item.get("id"), "id"),
                          reply_to=_text(item.get("relatedSentMessageId"), "id"))


def receive(config: SmsCreditConfig, request: WebhookRequest) -> Received:
    """Check and read one call: any number of status reports or received messages."""
    problem = shared_secret_problem(request, config.webhook_secret)
    if problem is not None:
        return Received.refuse(problem)
    try:
        data = request.json()
    except RequestError as exc:
        return Received.refuse(str(exc), 400)
    items = data if isinstance(data, list) else [data]
    announced = (request.header(EVENT_HEADER) or "").lower()
    events: list[InboundEvent] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return Received.refuse(f"item {index} of the call is not a message object", 400)
        kind = KINDS.get(str(item.get("type") or "").upper(), announced)
        if kind == "incoming-message":
            events.append(_inbound(item))
        elif kind == "status-report":
            events.append(_report(item))
        else:
            return Received.refuse(f"item {index} is neither a received message nor a status "
                                   f"report (type {item.get('type')!r}, {EVENT_HEADER} "
                                   f"{announced or 'missing'})", 400)
    return Received.accept(events)
