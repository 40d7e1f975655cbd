"""The five postroom hooks of the ``sms_credit`` provider."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from postroom.errors import PluginError
from postroom.hookspecs import hookimpl
from postroom.messages import SmsMessage
from postroom.results import Credits, Diagnosis, Problem, SendResult
from postroom.settings import ConfigContext
from postroom_sms_credit.balance import read_credits
from postroom_sms_credit.checks import live_check, problems
from postroom_sms_credit.client import Gateway
from postroom_sms_credit.config import PROVIDER, SmsCreditConfig
from postroom_sms_credit.errors import GatewayError
from postroom_sms_credit.sending import send_batch


@hookimpl
def postroom_configure(provider: str, settings: Mapping[str, object],
                       context: ConfigContext) -> SmsCreditConfig | None:
    if provider != PROVIDER:
        return None
    # The account's region (a key postroom reads itself) reads a local sender number.
    return context.structure({**settings, "region": context.region}, SmsCreditConfig)


@hookimpl
def postroom_validate(config: object) -> list[Problem] | None:
    if not isinstance(config, SmsCreditConfig):
        return None
    return problems(config)


@hookimpl
def postroom_test(config: object, target: str | None) -> Diagnosis | None:
    if not isinstance(config, SmsCreditConfig):
        return None
    return live_check(config, target)


@hookimpl
def postroom_send(config: object,
                  messages: Sequence[SmsMessage]) -> Iterator[list[SendResult]] | None:
    if not isinstance(config, SmsCreditConfig):
        return None
    return send_batch(config, messages)


@hookimpl
def postroom_credits(config: object) -> Credits | None:
    if not isinstance(config, SmsCreditConfig):
        return None
    with Gateway(config) as gateway:
        try:
            return read_credits(gateway)
        except GatewayError as exc:
            raise PluginError(f"cannot read the credits of {config.login} at {gateway.host}: "
                              f"{exc.text}; {exc.hint}") from None
