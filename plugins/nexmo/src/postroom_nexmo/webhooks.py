"""Webhook calls from the SMS API: delivery receipts and inbound messages.

The API calls the account's webhook address (GET, form POST or JSON POST,
as set in the dashboard) with a delivery receipt (``messageId``, ``status``,
``err-code``, ``client-ref``, ``price`` ...) for each part of a sent message,
and with an inbound message (``msisdn``, ``to``, ``text``, ``messageId``,
``message-timestamp``) for each text sent to the account's number.

A call must prove it comes from the API: with ``signature_secret`` set, by
the request signature (``sig``) of the dashboard's signed webhooks; without,
by the account's ``webhook_secret`` in the address. Anything else is refused.
"""

from __future__ import annotations

from postroom.addresses import phone_number
from postroom.inbound import InboundMessage, Received
from postroom.webhooks import RequestError, WebhookRequest, shared_secret_problem
from postroom_nexmo.config import NexmoConfig
from postroom_nexmo.receipts import ReceiptError, parse_receipt, text_of, time_of
from postroom_nexmo.signing import verify


def authentication_problem(config: NexmoConfig, request: WebhookRequest,
                           params: dict[str, object]) -> str | None:
    """Why the call cannot be trusted to come from the API, or None."""
    if config.signature_secret is not None:
        if not params.get("sig"):
            return ("the call is not signed, but signature_secret is set: turn on signed "
                    "webhooks in the dashboard, or this call is not from the provider")
        if not verify(params, config.signature_secret.reveal(), config.method):
            return (f"the call's signature does not match (signature_method "
                    f"{config.method}): check signature_secret and signature_method, or this "
                    "call is not from the provider")
        key = params.get("api-key")
        if key is not None and key != config.api_key:
            return f"the call is for api_key {key!r}, not this account's {config.api_key!r}"
        return None
    return shared_secret_problem(request, config.webhook_secret)


def _number(value: str | None) -> str:
    """A number as the API writes it (digits, no ``+``) in E.164; other senders as given."""
    if value and value.isdigit():
        try:
            return phone_number("+" + value)
        except ValueError:
            return "+" + value
    return value or ""


def _inbound(params: dict[str, object]) -> InboundMessage:
    info = {key: str(params[key]) for key in ("type", "keyword", "concat-ref", "concat-total",
                                              "concat-part") if params.get(key)}
    return InboundMessage(sender=_number(text_of(params, "msisdn")),
                          recipient=_number(text_of(params, "to")),
                          text=text_of(params, "text") or "",
                          at=time_of(text_of(params, "message-timestamp"), "%Y-%m-%d %H:%M:%S"),
                          provider_id=text_of(params, "messageId"), info=info)


def receive(config: NexmoConfig, request: WebhookRequest) -> Received:
    """Check and read one call: a delivery receipt or an inbound message."""
    try:
        params = request.params()
    except RequestError as exc:
        return Received.refuse(f"{exc}", 400)
    problem = authentication_problem(config, request, params)
    if problem is not None:
        return Received.refuse(problem)
    if params.get("status") is not None:
        try:
            return Received.accept([parse_receipt(params).report()])
        except ReceiptError as exc:
            return Received.refuse(str(exc), 400)
    if params.get("msisdn") and params.get("text") is not None:
        return Received.accept([_inbound(params)])
    return Received.refuse("neither a delivery receipt (messageId, status) nor an inbound "
                           "message (msisdn, text)", 400)
