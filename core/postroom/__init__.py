"""postroom: send email and SMS from applications through pluggable providers.

The pieces an application uses (``Engine``, ``AsyncEngine``, the messages,
``Recipient`` and ``Contact``, ``LowCredit``, ``SentToday`` and
``AccountStatus``) and the pieces a
provider plugin is built from (``hookimpl``, ``ProviderConfig``, the result
types, ``Secret``) are all importable from here.
"""

from postroom.account_status import AccountStatus, SentToday
from postroom.addresses import Address
from postroom.aio import AsyncEngine
from postroom.credit_watch import LowCredit
from postroom.engine import Engine
from postroom.errors import (
    ConfigError,
    InsufficientCredits,
    MessageError,
    PluginError,
    PostroomError,
    StoreError,
    StoreUnavailable,
)
from postroom.hookspecs import hookimpl
from postroom.messages import Alternative, Attachment, EmailMessage, InlineImage, SmsMessage
from postroom.notifications import Contact
from postroom.provider import Provider
from postroom.results import Credits, Diagnosis, Outcome, Problem, SendResult
from postroom.secrets import Secret
from postroom.settings import ConfigContext, ProviderConfig
from postroom.templating import Recipient

__all__ = [
    "AccountStatus",
    "Address",
    "Alternative",
    "AsyncEngine",
    "Attachment",
    "ConfigContext",
    "ConfigError",
    "Contact",
    "Credits",
    "Diagnosis",
    "EmailMessage",
    "Engine",
    "InlineImage",
    "InsufficientCredits",
    "LowCredit",
    "MessageError",
    "Outcome",
    "PluginError",
    "PostroomError",
    "Problem",
    "Provider",
    "ProviderConfig",
    "Recipient",
    "Secret",
    "SendResult",
    "SentToday",
    "SmsMessage",
    "StoreError",
    "StoreUnavailable",
    "hookimpl",
]
