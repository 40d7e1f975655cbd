"""The ``nexmo`` provider's hooks: ``plugin``, the object the entry point names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from postroom import Credits, Diagnosis, PluginError, Problem, Provider, SendResult, SmsMessage
from postroom.inbound import Received
from postroom.webhooks import WebhookRequest
from postroom_nexmo.balance import read_credits
from postroom_nexmo.checks import live_check, problems
from postroom_nexmo.client import ApiError, NexmoClient
from postroom_nexmo.config import PROVIDER, NexmoConfig
from postroom_nexmo.sending import send_batch
from postroom_nexmo.webhooks import receive


class Nexmo(Provider):
    name = PROVIDER
    config_class = NexmoConfig

    def validate(self, config: NexmoConfig) -> list[Problem]:
        return problems(config)

    def test(self, config: NexmoConfig, target: str | None) -> Diagnosis:
        return live_check(config, target)

    def send(self, config: NexmoConfig,
             messages: Sequence[SmsMessage]) -> Iterator[list[SendResult]]:
        return send_batch(config, messages)

    def credits(self, config: NexmoConfig) -> Credits:
        with NexmoClient(config) as client:
            try:
                return read_credits(client)
            except ApiError as exc:
                raise PluginError(f"cannot read the balance of api_key {config.api_key!r}: "
                                  f"{exc.text}; {exc.hint}") from None

    def receive(self, config: NexmoConfig, request: WebhookRequest) -> Received:
        return receive(config, request)


plugin = Nexmo()
