"""Hook wrappers that blank an account's secrets from whatever its plugin answers.

A server may echo what it was sent: an SMTP server quoting the AUTH line
(the base64 of ``\\0user\\0password``), a proxy's error page quoting the
request. Plugins are asked to keep secrets out of their answers; these
wrappers make sure of it for every plugin, before a diagnosis is shown or a
result reaches the delivery log: each text of the answer is passed through
``postroom.secrets.scrub`` with the secrets of the account's config.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from postroom.hookspecs import hookimpl
from postroom.results import Credits, Diagnosis, Problem, SendResult
from postroom.secrets import scrub, secret_values


def _texts(value: object, secrets: list[str]) -> object:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, Mapping):
        return {key: _texts(item, secrets) for key, item in value.items()}
    return value


def blanked(answer: object, secrets: list[str]) -> object:
    """``answer`` with its text fields scrubbed; other values as they are."""
    if not secrets:
        return answer
    if isinstance(answer, list | tuple):
        return type(answer)(blanked(item, secrets) for item in answer)
    if isinstance(answer, SendResult | Diagnosis | Credits | Problem):
        changes = {a.name: _texts(getattr(answer, a.name), secrets)
                   for a in attrs.fields(type(answer))
                   if isinstance(getattr(answer, a.name), str | Mapping)}
        return attrs.evolve(answer, **changes)
    return answer


@hookimpl(wrapper=True)
def postroom_validate(config):
    answers = yield
    return [blanked(answer, secret_values(config)) for answer in answers]


@hookimpl(wrapper=True)
def postroom_test(config):
    return blanked((yield), secret_values(config))


@hookimpl(wrapper=True)
def postroom_send(config):
    return blanked((yield), secret_values(config))


@hookimpl(wrapper=True)
def postroom_credits(config):
    return blanked((yield), secret_values(config))
