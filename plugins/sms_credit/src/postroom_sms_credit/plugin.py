"""The ``sms_credit`` provider's hooks: ``plugin``, the object the entry point names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from postroom import Credits, Diagnosis, PluginError, Problem, Provider, SendResult, SmsMessage
from postroom.inbound import Received
from postroom.webhooks import WebhookRequest
from postroom_sms_credit.balance import read_credits
from postroom_sms_credit.checks import live_check, problems
from postroom_sms_credit.client import Gateway
from postroom_sms_credit.config import PROVIDER, SmsCreditConfig
from postroom_sms_credit.errors import GatewayError
from postroom_sms_credit.sending import send_batch
from postroom_sms_credit.webhooks import receive


class SmsCredit(Provider):
    name = PROVIDER
    config_class = SmsCreditConfig

    def validate(self, config: SmsCreditConfig) -> list[Problem]:
        return problems(config)

    def test(self, config: SmsCreditConfig, target: str | None) -> Diagnosis:
        return live_check(config, target)

    def send(self, config: SmsCreditConfig,
             messages: Sequence[SmsMessage]) -> Iterator[list[SendResult]]:
        return send_batch(config, messages)

    def credits(self, config: SmsCreditConfig) -> Credits:
        with Gateway(config) as gateway:
            try:
                return read_credits(gateway)
            except GatewayError as exc:
                raise PluginError(f"cannot read the credits of {config.login} at "
                                  f"{gateway.host}: {exc.text}; {exc.hint}") from None

    def receive(self, config: SmsCreditConfig, request: WebhookRequest) -> Received:
        return receive(config, request)


plugin = SmsCredit()
