"""The five postroom hooks for the ``microsoft365`` provider.

Each hook answers only for a ``Microsoft365Config``. ``postroom_credits``
answers ``None``: Exchange Online sells no credit (its limits reach the
scheduler through ``Microsoft365Config.schedule_defaults`` instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from postroom import ConfigContext, Credits, Diagnosis, EmailMessage, Problem, SendResult, hookimpl
from postroom_microsoft365.config import PROVIDER, Microsoft365Config
from postroom_microsoft365.live_check import check
from postroom_microsoft365.sending import send
from postroom_microsoft365.validation import problems


def _ours(config: object) -> bool:
    return type(config) is Microsoft365Config


@hookimpl
def postroom_configure(provider: str, settings: Mapping[str, object],
                       context: ConfigContext) -> Microsoft365Config | None:
    if provider != PROVIDER:
        return None
    return context.structure(settings, Microsoft365Config)


@hookimpl
def postroom_validate(config: object) -> list[Problem] | None:
    if not _ours(config):
        return None
    return problems(config)


@hookimpl
def postroom_test(config: object, target: str | None) -> Diagnosis | None:
    if not _ours(config):
        return None
    return check(config, target)


@hookimpl
def postroom_send(config: object, messages: Sequence[EmailMessage]) -> list[SendResult] | None:
    if not _ours(config):
        return None
    return send(config, messages)


@hookimpl
def postroom_credits(config: object) -> Credits | None:
    # Exchange Online sells no credit: nothing to report, for our config or any other.
    return None
