"""postroom: send email and SMS from applications through pluggable providers.

The pieces an application uses (``Engine``, the messages) and the pieces a
provider plugin is built from (``hookimpl``, ``ProviderConfig``, the result
types, ``Secret``) are all importable from here.
"""

from postroom.addresses import Address
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
from postroom.messages import Attachment, EmailMessage, SmsMessage
from postroom.results import Credits, Diagnosis, Outcome, Problem, SendResult
from postroom.secrets import Secret
from postroom.settings import ConfigContext, ProviderConfig

__all__ = [
    "Address",
    "Attachment",
    "ConfigContext",
    "ConfigError",
    "Credits",
    "Diagnosis",
    "EmailMessage",
    "Engine",
    "InsufficientCredits",
    "MessageError",
    "Outcome",
    "PluginError",
    "PostroomError",
    "Problem",
    "ProviderConfig",
    "Secret",
    "SendResult",
    "SmsMessage",
    "StoreError",
    "StoreUnavailable",
    "hookimpl",
]
