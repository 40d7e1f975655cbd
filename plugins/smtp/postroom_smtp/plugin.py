"""The five postroom hooks for the ``smtp`` provider.

Each hook answers only for an ``SmtpConfig`` itself, not for subclasses: a
plugin built on this one (with its own config class) gets its own calls.
``postroom_credits`` answers ``None``: SMTP has no notion of credit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from postroom import ConfigContext, Credits, Diagnosis, EmailMessage, Problem, SendResult, hookimpl
from postroom_smtp.batch import send_batch
from postroom_smtp.config import PROVIDER, SmtpConfig
from postroom_smtp.live_check import check_transport
from postroom_smtp.validation import problems


def _ours(config: object) -> bool:
    return type(config) is SmtpConfig


@hookimpl
def postroom_configure(provider: str, settings: Mapping[str, object],
                       context: ConfigContext) -> SmtpConfig | None:
    if provider != PROVIDER:
        return None
    return context.structure(settings, SmtpConfig)


@hookimpl
def postroom_validate(config: object) -> list[Problem] | None:
    if not _ours(config):
        return None
    return problems(config)


@hookimpl
def postroom_test(config: object, target: str | None) -> Diagnosis | None:
    if not _ours(config):
        return None
    return check_transport(config.transport(), config.from_address, target,
                           config.reply_to_addresses)


@hookimpl
def postroom_send(config: object,
                  messages: Sequence[EmailMessage]) -> Iterator[SendResult] | None:
    if not _ours(config):
        return None
    return send_batch(config.transport(), messages, config.from_address,
                      config.reply_to_addresses)


@hookimpl
def postroom_credits(config: object) -> Credits | None:
    # SMTP servers sell no credit: nothing to report, for our config or any other.
    return None
