"""Delivery receipts: what the provider calls back with when a carrier reports.

``parse_receipt`` checks a receipt's signature (when a signature secret is
given) and reads it; ``Receipt.report()`` is the receipt as the
``DeliveryReport`` the receive hook answers. The provider sends one receipt
per part of a long message; ``client_ref`` carries postroom's message id,
``provider_id`` the part's own id.

Deprecated: ``receipt_app``, ``log_receipts`` and ``engine_receipt_app``, the
hand-wired receipt address of earlier versions. The ``postroom_receive`` hook
now reads receipts (and inbound messages) for postroom's webhook app,
``postroom.webhooks.wsgi_app(engine)`` at ``/ACCOUNT/``.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from attrs import frozen

from postroom.errors import ConfigError, PostroomError
from postroom.inbound import DeliveryReport
from postroom.receiving import take_report
from postroom.secrets import Secret
from postroom.webhooks import WebhookApp
from postroom_nexmo.config import CURRENCY, NexmoConfig, SignatureMethod
from postroom_nexmo.signing import verify

if TYPE_CHECKING:
    from postroom import Engine

log = logging.getLogger(__name__)

FINAL_STATES = frozenset({"delivered", "expired", "failed", "rejected"})
MAX_BODY = 64 * 1024  # a receipt is a few hundred bytes; refuse anything much larger

STATES = {"delivered": "delivered", "expired": "failed", "failed": "failed",
          "rejected": "failed"}  # accepted, buffered, unknown: on the way

# The receipt's err-code, as the provider lists them.
RECEIPT_ERRORS = {
    "1": "unknown", "2": "absent subscriber (temporary)", "3": "absent subscriber (permanent)",
    "4": "call barred by the user", "5": "portability error", "6": "anti-spam rejection",
    "7": "handset busy", "8": "network error", "9": "illegal number", "10": "illegal message",
    "11": "unroutable", "12": "destination unreachable", "13": "subscriber age restriction",
    "14": "number blocked by the carrier", "15": "prepaid subscriber out of funds",
    "16": "gateway quota exceeded", "50": "entity filter", "51": "header filter",
    "52": "content filter", "53": "consent filter", "54": "regulation error",
    "99": "general error",
}


class ReceiptError(PostroomError, ValueError):
    """A call to the receipt address that is not a usable delivery receipt."""


class BadSignature(ReceiptError):
    """A receipt whose signature is missing or wrong: it may not come from the provider."""


@frozen
class Receipt:
    """One delivery receipt, as the carrier reported it.

    ``status`` is ``delivered``, ``expired``, ``failed``, ``rejected``
    (final) or ``accepted``, ``buffered``, ``unknown`` (on the way);
    ``error_code`` is the carrier's ``err-code`` (``"0"``: no error).
    ``recipient`` is the number in E.164; ``sender`` the ``from`` used.
    ``carrier_time`` is when the carrier reported (``scts``), ``sent_at``
    when the provider started to push this receipt (``message-timestamp``),
    both in UTC.
    """

    provider_id: str
    client_ref: str | None
    status: str
    error_code: str | None = None
    recipient: str | None = None
    sender: str | None = None
    network: str | None = None
    price: Decimal | None = None
    carrier_time: datetime | None = None
    sent_at: datetime | None = None

    @property
    def final(self) -> bool:
        """True when no later receipt will change the outcome."""
        return self.status in FINAL_STATES

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"

    def report(self) -> DeliveryReport:
        """The receipt in postroom's words, as the receive hook answers it."""
        code = None if self.error_code in (None, "0") else self.error_code
        info = {key: str(value) for key, value in (("network", self.network),
                                                    ("sender", self.sender)) if value}
        return DeliveryReport(state=STATES.get(self.status, "pending"),
                              message_id=self.client_ref, provider_id=self.provider_id,
                              status=self.status, code=code,
                              reason=RECEIPT_ERRORS.get(code, f"error {code}") if code else "",
                              cost=self.price, currency=CURRENCY if self.price else None,
                              recipient=self.recipient, at=self.carrier_time, info=info)


def text_of(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    return None if value in (None, "") else str(value)


def time_of(value: str | None, layout: str) -> datetime | None:
    try:
        return datetime.strptime(value, layout).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def _price(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def parse_receipt(params: Mapping[str, Any], signature_secret: Secret | None = None,
                  method: SignatureMethod = "md5hash") -> Receipt:
    """Read a receipt's parameters (query, form or JSON, as the provider sent them).

    With ``signature_secret`` the receipt must carry a valid ``sig`` made by
    ``method``, or ``BadSignature`` is raised. A receipt without a message id
    or status raises ``ReceiptError``.
    """
    if signature_secret is not None:
        if not params.get("sig"):
            raise BadSignature("the receipt is not signed, but a signature secret is set: "
                               "turn on signed webhooks in the dashboard, or this is not "
                               "from the provider")
        if not verify(params, signature_secret.reveal(), method):
            raise BadSignature(f"the receipt's signature does not match (method {method}): "
                               "check signature_secret and signature_method, or this is not "
                               "from the provider")
    provider_id, status = text_of(params, "messageId"), text_of(params, "status")
    missing = [name for name, value in (("messageId", provider_id), ("status", status))
               if value is None]
    if missing:
        raise ReceiptError(f"not a delivery receipt: {' and '.join(missing)} missing")
    recipient = text_of(params, "msisdn")
    return Receipt(
        provider_id=provider_id,
        client_ref=text_of(params, "client-ref"),
        status=status.lower(),
        error_code=text_of(params, "err-code"),
        recipient=f"+{recipient}" if recipient and not recipient.startswith("+") else recipient,
        sender=text_of(params, "to"),
        network=text_of(params, "network-code"),
        price=_price(text_of(params, "price")),
        carrier_time=time_of(text_of(params, "scts"), "%y%m%d%H%M"),
        sent_at=time_of(text_of(params, "message-timestamp"), "%Y-%m-%d %H:%M:%S"),
    )


def _params(environ: Mapping[str, Any]) -> dict[str, Any]:
    """The receipt's fields from the query string, a form body or a JSON body."""
    if environ.get("REQUEST_METHOD", "GET") == "GET":
        return dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ReceiptError("the request's Content-Length is not a number") from None
    if length > MAX_BODY:
        raise ReceiptError(f"the body is {length} bytes; a receipt is far smaller")
    body = environ["wsgi.input"].read(length) if length else b""
    kind = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ReceiptError("the JSON body is not an object")
            return data
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ReceiptError(f"the body is not valid {kind or 'form data'}") from None


WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def receipt_app(on_receipt: Callable[[Receipt], None], signature_secret: Secret | None = None,
                method: SignatureMethod = "md5hash") -> WsgiApp:
    """A WSGI application that verifies, reads and hands on each delivery receipt.

    It answers 204 when ``on_receipt`` took the receipt; 400 for a malformed
    call and 403 for a bad signature (both logged, not passed on); 500 when
    ``on_receipt`` failed, so that the provider sends the receipt again.

    Deprecated: serve ``postroom.webhooks.wsgi_app(engine)`` instead.
    """
    _deprecated("receipt_app")

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        def answer(status: str, text: str = "") -> list[bytes]:
            body = text.encode()
            start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                    ("Content-Length", str(len(body)))])
            return [body]

        if environ.get("REQUEST_METHOD") not in ("GET", "POST"):
            return answer("405 Method Not Allowed", "send receipts with GET or POST\n")
        try:
            receipt = parse_receipt(_params(environ), signature_secret, method)
        except BadSignature as exc:
            log.warning("refused a delivery receipt: %s", exc)
            return answer("403 Forbidden", f"{exc}\n")
        except ReceiptError as exc:
            log.warning("refused a call to the receipt address: %s", exc)
            return answer("400 Bad Request", f"{exc}\n")
        try:
            on_receipt(receipt)
        except Exception:  # the caller's code may fail in any way; the provider will retry
            log.exception("could not record the delivery receipt for %s", receipt.provider_id)
            return answer("500 Internal Server Error", "the receipt could not be recorded\n")
        return answer("204 No Content")

    return app


def _deprecated(name: str) -> None:
    warnings.warn(f"postroom_nexmo.{name} is deprecated: serve postroom.webhooks.wsgi_app(engine)"
                  " (or asgi_app) and give the provider its /ACCOUNT/ address; the nexmo "
                  "plugin's postroom_receive reads receipts and inbound messages there",
                  DeprecationWarning, stacklevel=3)


def log_receipts(engine: Engine) -> Callable[[Receipt], None]:
    """Deprecated: an ``on_receipt`` that writes each receipt to ``engine``'s delivery log.

    A receipt for a message this outbox does not know is logged as a warning
    and taken, since the provider sending it again would not help.
    """
    _deprecated("log_receipts")

    def record(receipt: Receipt) -> None:
        stored = engine.store.find(receipt.client_ref) if receipt.client_ref else None
        if stored is None:
            log.warning("delivery receipt %s is for no message of this outbox (client-ref "
                        "%s)", receipt.provider_id, receipt.client_ref)
            return
        take_report(engine, engine.account(stored.account), receipt.report(), engine.clock())

    return record


def engine_receipt_app(engine: Engine, account: str) -> WsgiApp:
    """Deprecated: the webhook app for ``account`` alone, at any address.

    Calls go through the nexmo plugin's ``postroom_receive`` as those to
    ``postroom.webhooks.wsgi_app(engine)`` at ``/ACCOUNT/`` do: signatures
    checked, receipts logged, inbound messages in the inbox.
    """
    _deprecated("engine_receipt_app")
    config = engine.account(account).config
    if not isinstance(config, NexmoConfig):
        raise ConfigError([(f"accounts.{account}.provider",
                            "receipts come to nexmo accounts only")])
    app = WebhookApp(engine)

    def wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
        routed = {**environ, "PATH_INFO": f"/{account}{environ.get('PATH_INFO') or '/'}"}
        return app.wsgi(routed, start_response)

    return wsgi
