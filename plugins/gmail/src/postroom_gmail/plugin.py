"""The five postroom hooks for the ``gmail`` provider.

Each hook answers only for a ``GmailConfig``. ``postroom_credits`` answers
``None``: Gmail sells no credit (its limits reach the store through
``GmailConfig.limits`` instead).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from postroom import ConfigContext, Credits, Diagnosis, EmailMessage, Problem, SendResult, hookimpl
from postroom_gmail.config import PROVIDER, GmailConfig
from postroom_gmail.live_check import check
from postroom_gmail.sending import send
from postroom_gmail.validation import problems


def _ours(config: object) -> bool:
    return type(config) is GmailConfig


@hookimpl
def postroom_configure(provider: str, settings: Mapping[str, object],
                       context: ConfigContext) -> GmailConfig | None:
    if provider != PROVIDER:
        return None
    return context.structure(settings, GmailConfig)


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
def postroom_send(config: object,
                  messages: Sequence[EmailMessage]) -> Iterator[SendResult] | None:
    if not _ours(config):
        return None
    return send(config, messages)


@hookimpl
def postroom_credits(config: object) -> Credits | None:
    # Gmail sells no credit: nothing to report, for our config or any other.
    return None
