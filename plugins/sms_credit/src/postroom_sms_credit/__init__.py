"""postroom-sms-credit: text messages through a prepaid-credit gateway (BulkSMS JSON API).

Install it beside postroom and name ``provider = "sms_credit"`` in an account.
``SmsCreditConfig.credits_needed(messages)`` and ``SmsCreditConfig.preflight``
are what postroom's pre-flight check sets against the ``credits`` hook's balance.
"""

from postroom_sms_credit.config import SmsCreditConfig
from postroom_sms_credit.estimate import credits_for, credits_needed, shortfall
from postroom_sms_credit.plugin import plugin

__all__ = [
    "SmsCreditConfig",
    "credits_for",
    "credits_needed",
    "plugin",
    "shortfall",
]
