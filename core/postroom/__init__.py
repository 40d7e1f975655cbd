"""postroom: send email and SMS from applications through pluggable providers.

The pieces an application uses (``Engine``, ``AsyncEngine``, the messages,
``Recipient`` and ``Contact``) and the pieces a
provider plugin is built from (``hookimpl``, ``ProviderConfig``, the result
types, ``Secret``) are all importable from here.
"""

from postroom.addresses import Address
from postroom.aio import AsyncEngine
from postroom.engine import Engine
from postroom.errors import (
    ConfigError,
    InsufficientCredits,
    MessageError,
    PluginError,
    PostroomError,
    StoreUnavailable,
)
from postroom.hookspecs import hookimpl
from postroom.messages import Alternative, Attachment, EmailMessage, InlineImage, SmsMessage
from postroom.notifications import Contact
from postroom.results import Credits, Diagnosis, Outcome, Problem, SendResult
from postroom.secrets import Secret
from postroom.settings import ConfigContext, ProviderConfig
from postroom.templating import Recipient

__all__ = [
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
    "MessageError",
    "Outcome",
    "PluginError",
    "PostroomError",
    "Problem",
    "ProviderConfig",
    "Recipient",
    "Secret",
    "SendResult",
    "SmsMessage",
    "StoreUnavailable",
    "hookimpl",
]
