"""The five postroom hooks of the ``nexmo`` provider."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from postroom.errors import PluginError
from postroom.hookspecs import hookimpl
from postroom.messages import SmsMessage
from postroom.results import Credits, Diagnosis, Problem, SendResult
from postroom.settings import ConfigContext
from postroom_nexmo.balance import read_credits
from postroom_nexmo.checks import live_check, problems
from postroom_nexmo.client import ApiError, NexmoClient
from postroom_nexmo.config import PROVIDER, NexmoConfig
from postroom_nexmo.sending import send_batch


@hookimpl
def postroom_configure(provider: str, settings: Mapping[str, object],
                       context: ConfigContext) -> NexmoConfig | None:
    if provider != PROVIDER:
        return None
    # The account's region (a key postroom reads itself) reads a local sender number.
    return context.structure({**settings, "region": context.region}, NexmoConfig)


@hookimpl
def postroom_validate(config: object) -> list[Problem] | None:
    if not isinstance(config, NexmoConfig):
        return None
    return problems(config)


@hookimpl
def postroom_test(config: object, target: str | None) -> Diagnosis | None:
    if not isinstance(config, NexmoConfig):
        return None
    return live_check(config, target)


@hookimpl
def postroom_send(config: object,
                  messages: Sequence[SmsMessage]) -> Iterator[list[SendResult]] | None:
    if not isinstance(config, NexmoConfig):
        return None
    return send_batch(config, messages)


@hookimpl
def postroom_credits(config: object) -> Credits | None:
    if not isinstance(config, NexmoConfig):
        return None
    with NexmoClient(config) as client:
        try:
            return read_credits(client)
        except ApiError as exc:
            raise PluginError(f"cannot read the balance of api_key {config.api_key!r}: "
                              f"{exc.text}; {exc.hint}") from None
