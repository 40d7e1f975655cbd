"""Hook wrappers that blank an account's secrets from whatever its plugin answers.

A server may echo what it was sent: an SMTP server quoting the AUTH line
(the base64 of ``\\0user\\0password``), a proxy's error page quoting the
request. Plugins are asked to keep secrets out of their answers; these
wrappers make sure of it for every plugin, before a diagnosis is shown or a
result reaches the delivery log: each text of the answer is passed through
``postroom.secrets.scrub`` with the secrets of the account's config.

While a hook runs, log records made in its thread are scrubbed the same way
(their message and traceback), so a plugin that logs what a server said
leaks nothing either.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

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


# The engine's own message ids: never a secret, yet a run of hex may decode to a
# short one, and a blanked id would no longer match its message.
_IDS = frozenset({"message_id"})


def blanked(answer: object, secrets: list[str]) -> object:
    """``answer`` with its text fields scrubbed; other values (and the message id,
    which the engine made) as they are."""
    if not secrets:
        return answer
    if isinstance(answer, list | tuple):
        return type(answer)(blanked(item, secrets) for item in answer)
    if isinstance(answer, SendResult | Diagnosis | Credits | Problem):
        changes = {}
        for name in _text_fields(type(answer)):
            value = getattr(answer, name)
            if isinstance(value, str | Mapping):
                scrubbed = _texts(value, secrets)
                if scrubbed != value:
                    changes[name] = scrubbed
        # Most answers hold no secret: they go on as they are, not copied.
        return attrs.evolve(answer, **changes) if changes else answer
    return answer


@functools.cache
def _text_fields(kind: type) -> tuple[str, ...]:
    """The fields of an answer class that may hold text (all but the engine's ids)."""
    return tuple(a.name for a in attrs.fields(kind) if a.name not in _IDS)


_in_play: ContextVar[tuple[str, ...]] = ContextVar("postroom_secrets_in_play", default=())
_factory_lock = threading.Lock()
_factory_installed = False


def _scrubbing_factory(previous):
    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        secrets = _in_play.get()
        if secrets:
            try:
                record.msg, record.args = scrub(record.getMessage(), secrets), None
                if record.exc_info:
                    record.exc_text = scrub(logging.Formatter().formatException(
                        record.exc_info), secrets)
            except Exception:  # noqa: S110 (a record that cannot be formatted stays as it is)
                pass
        return record
    return make_record


@contextmanager
def secrets_in_play(config: object, secrets: list[str] | None = None) -> Iterator[list[str]]:
    """Scrub log records made in this thread of ``config``'s secrets (``secrets``,
    when the caller has read them already) while inside."""
    global _factory_installed
    if not _factory_installed:
        with _factory_lock:
            if not _factory_installed:
                logging.setLogRecordFactory(_scrubbing_factory(logging.getLogRecordFactory()))
                _factory_installed = True
    if secrets is None:
        secrets = secret_values(config)
    token = _in_play.set(tuple(secrets))
    try:
        yield secrets
    finally:
        _in_play.reset(token)


@hookimpl(wrapper=True)
def postroom_validate(config):
    with secrets_in_play(config) as secrets:
        answers = yield
    return [blanked(answer, secrets) for answer in answers]


@hookimpl(wrapper=True)
def postroom_test(config):
    with secrets_in_play(config) as secrets:
        answer = yield
    return blanked(answer, secrets)


@hookimpl(wrapper=True)
def postroom_send(config):
    with secrets_in_play(config) as secrets:
        answer = yield
    if answer is None or isinstance(answer, list | tuple):
        return blanked(answer, secrets)
    return _blanked_stream(iter(answer), config)


def _blanked_stream(results: Iterator[SendResult], config: object) -> Iterator[SendResult]:
    """A plugin's results as they come, each scrubbed, and the plugin's work for each
    (its logging included) done with the account's secrets in play."""
    secrets = secret_values(config)  # read once: a batch may hold thousands of results
    try:
        while True:
            with secrets_in_play(config, secrets):
                try:
                    result = next(results)
                except StopIteration:
                    return
            yield blanked(result, secrets)
    finally:
        close = getattr(results, "close", None)
        if close is not None:  # a batch stopped half way: the plugin finishes in play too
            with secrets_in_play(config, secrets):
                close()


@hookimpl(wrapper=True)
def postroom_credits(config):
    with secrets_in_play(config) as secrets:
        answer = yield
    return blanked(answer, secrets)
