"""The ``gmail`` provider's hooks: ``plugin``, the object the entry point names.

Its hooks answer only for a ``GmailConfig``. Gmail sells no credit (its
limits reach the store through ``GmailConfig.limits`` instead).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from postroom import Diagnosis, EmailMessage, Problem, Provider, SendResult
from postroom_gmail.config import PROVIDER, GmailConfig
from postroom_gmail.live_check import check
from postroom_gmail.sending import send
from postroom_gmail.validation import problems


class Gmail(Provider):
    name = PROVIDER
    config_class = GmailConfig

    def validate(self, config: GmailConfig) -> list[Problem]:
        return problems(config)

    def test(self, config: GmailConfig, target: str | None) -> Diagnosis:
        return check(config, target)

    def send(self, config: GmailConfig, messages: Sequence[EmailMessage]) -> Iterator[SendResult]:
        return send(config, messages)


plugin = Gmail()
