"""What a worker needs from the application around it, and nothing more.

``Engine`` is one such host; a worker never imports it, so the engine can
import the worker without a cycle, and a test or another application can
run a worker on a host of its own (a store wrapped to fail on cue).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from postroom.config import Account, Config
    from postroom.dispatch import ResultStream
    from postroom.messages import Message
    from postroom.store import Store


class WorkerHost(Protocol):
    """The configuration, the clock, the store and the way to the plugins."""

    config: Config
    clock: Callable[[], float]

    @property
    def store(self) -> Store:
        """The outbox every worker shares."""

    def dispatch(self, account: Account, messages: Sequence[Message]) -> ResultStream:
        """Hand a batch to the account's plugin; its results, one at a time."""
