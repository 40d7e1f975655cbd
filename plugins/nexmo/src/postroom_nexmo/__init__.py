"""postroom-nexmo: send text messages through the Nexmo/Vonage SMS API.

Install it beside postroom and name ``provider = "nexmo"`` in an account.
Delivery receipts and inbound messages come through ``postroom_receive`` and
postroom's webhook app (``postroom.webhooks``); ``receipt_app`` and
``engine_receipt_app`` remain, deprecated. The account's ``rate_per_second``
reaches the scheduler through ``NexmoConfig.schedule_defaults()``.
"""

from postroom_nexmo.config import NexmoConfig
from postroom_nexmo.plugin import plugin
from postroom_nexmo.receipts import (
    BadSignature,
    Receipt,
    ReceiptError,
    engine_receipt_app,
    log_receipts,
    parse_receipt,
    receipt_app,
)

__all__ = [
    "BadSignature",
    "NexmoConfig",
    "Receipt",
    "ReceiptError",
    "engine_receipt_app",
    "log_receipts",
    "parse_receipt",
    "plugin",
    "receipt_app",
]
