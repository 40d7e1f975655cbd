"""Calling ``postroom_send`` and taking its results one at a time, as they come.

A plugin answers ``postroom_send`` with an iterator (a generator object) that
hands message *i* over when asked for the next result, so the engine records
each result as it comes and may stop between two (closing the iterator) when
it shuts down or loses its lease. An item may also be a list of results, for
messages a plugin hands over together in one request. A plugin written to the
first contract answers with a list of every result at once: it still works,
but the batch cannot be stopped, and a ``DeprecationWarning`` says so once.

``ResultStream`` checks the contract as it goes: one ``SendResult`` per
message, in order, with the message's id; a breach is a ``PluginError``
naming the plugin and its distribution.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from postroom.errors import PluginError
from postroom.messages import Message
from postroom.results import Problem, SendResult

if TYPE_CHECKING:
    from postroom.config import Account
    from postroom.plugins import PluginRegistry

class ResultStream:
    """The results of one ``postroom_send`` call, one per message, in order.

    ``interruptible`` is false when the plugin sent the whole batch before
    answering (a list): every result must then be taken, and an exception
    says nothing of which messages went. ``plugin`` names the plugin and its
    distribution, for logs.
    """

    def __init__(self, answer: Iterator, messages: Sequence[Message], plugin: str,
                 interruptible: bool = True) -> None:
        self.plugin = plugin
        self.interruptible = interruptible
        self._answer = answer
        self._ids = [m.id for m in messages]
        self._next = 0
        self._pending: deque[object] = deque()  # the rest of an item that was a list

    def __iter__(self) -> ResultStream:
        return self

    @property
    def between_items(self) -> bool:
        """Whether every result the plugin has given was taken: only then may the
        engine stop asking (the results of one request come together)."""
        return not self._pending

    def __next__(self) -> SendResult:
        """The next message's result; any exception of the plugin passes through."""
        if self._next == len(self._ids):
            # Let the plugin run to its end, and check that it adds no result.
            if self._pending or next(self._answer, None) is not None:
                raise PluginError(f"{self.plugin} answered postroom_send with more results "
                                  f"than the {len(self._ids)} messages")
            raise StopIteration
        if not self._pending:
            item = next(self._answer, None)
            if item is None:
                raise PluginError(f"{self.plugin} answered postroom_send with {self._next} "
                                  f"results for {len(self._ids)} messages")
            self._pending.extend(item if isinstance(item, Sequence) else [item])
        result = self._pending.popleft()
        expected = self._ids[self._next]
        if not isinstance(result, SendResult) or result.message_id != expected:
            raise PluginError(f"{self.plugin} answered postroom_send with {result!r} where the "
                              f"result of message {expected} was due: one SendResult per "
                              "message, in the order given")
        self._next += 1
        return result

    def close(self) -> None:
        """Stop asking: a generator's ``finally`` and ``with`` blocks run now."""
        close = getattr(self._answer, "close", None)
        if close is not None:
            close()


def each_result(answer: Iterable[SendResult | Sequence[SendResult]]) -> Iterator[SendResult]:
    """The results of a ``postroom_send`` answer one by one, lists of results opened."""
    for item in answer:
        if isinstance(item, Sequence):
            yield from item
        else:
            yield item


def plugin_label(registry: PluginRegistry, provider: str) -> str:
    """``the acme plugin (postroom-acme 1.2)``: who serves ``provider``, for people."""
    info = registry.providers().get(provider)
    if info is None:
        return f"the {provider} plugin"
    return f"the {provider} plugin ({info.distribution} {info.version})".replace(" )", ")")


def config_errors(registry: PluginRegistry, account: Account) -> list[Problem]:
    """The errors ``postroom_validate`` finds in the account's config."""
    answers = registry.hook.postroom_validate(config=account.config)
    return [p for answer in answers for p in answer or () if p.severity == "error"]


def send_stream(registry: PluginRegistry, account: Account,
                messages: Sequence[Message]) -> ResultStream:
    """Hand ``messages`` to the account's plugin; its results, as they come.

    An account whose config has an error sends nothing: every message comes
    back ``account_stopped``, so the account pauses and the messages wait for
    the fix.
    """
    label = plugin_label(registry, account.provider)
    errors = config_errors(registry, account)
    if errors:
        text = "; ".join(f"{p.field}: {p.message}" + (f" ({p.hint})" if p.hint else "")
                         for p in errors)
        return ResultStream(iter([SendResult.account_stopped(m.id, None, text)
                                  for m in messages]), messages, label)
    # A failure to answer comes at the first result, so the worker treats it as
    # a plugin that raised: what may have gone is retried, nothing is lost.
    try:
        answer = registry.hook.postroom_send(config=account.config, messages=messages)
    except Exception as exc:  # a plugin's bug
        return ResultStream(_raise(exc), messages, label, interruptible=False)
    if answer is None:
        return ResultStream(_raise(PluginError(
            f"no plugin answered postroom_send for account {account.name!r} (provider "
            f"{account.provider!r})")), messages, label, interruptible=False)
    try:
        results = iter(answer)
    except TypeError:
        return ResultStream(_raise(PluginError(
            f"{label} answered postroom_send with {type(answer).__name__}, not an iterator "
            "of results")), messages, label, interruptible=False)
    if isinstance(answer, Sequence) and label not in registry.warned:
        registry.warned.add(label)
        warnings.warn(f"{label} returns a list from postroom_send, so a batch cannot stop "
                      "half way and results are recorded only at its end; return an iterator "
                      "of results instead (see postroom.hookspecs.postroom_send)",
                      DeprecationWarning, stacklevel=2)
    return ResultStream(results, messages, label, not isinstance(answer, Sequence))


def _raise(error: Exception) -> Iterator[SendResult]:
    """A generator that raises ``error`` when asked for its first result."""
    yield from ()
    raise error
