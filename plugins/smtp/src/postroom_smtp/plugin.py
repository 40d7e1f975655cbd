"""The ``smtp`` provider's hooks: ``plugin``, the object the entry point names.

Its hooks answer only for an ``SmtpConfig`` itself, not for subclasses: a
plugin built on this one (with its own config class) gets its own calls.
SMTP has no notion of credit and sends no webhooks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from postroom import Diagnosis, EmailMessage, Problem, Provider, SendResult
from postroom_smtp.batch import send_batch
from postroom_smtp.config import PROVIDER, SmtpConfig
from postroom_smtp.live_check import check_transport
from postroom_smtp.validation import problems


class Smtp(Provider):
    name = PROVIDER
    config_class = SmtpConfig

    def validate(self, config: SmtpConfig) -> list[Problem]:
        return problems(config)

    def test(self, config: SmtpConfig, target: str | None) -> Diagnosis:
        return check_transport(config.transport(), config.from_address, target,
                               config.reply_to_addresses)

    def send(self, config: SmtpConfig, messages: Sequence[EmailMessage]) -> Iterator[SendResult]:
        return send_batch(config.transport(), messages, config.from_address,
                          config.reply_to_addresses)


plugin = Smtp()
