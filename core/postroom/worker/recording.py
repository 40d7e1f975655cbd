"""Writing a batch's results as they come, and holding on to them while the store cannot.

Results are written a few at a time (every ``FLUSH_EVERY`` results, or as
soon as the oldest waiting one is ``FLUSH_AFTER`` seconds old, and at the end
of the batch), so a result is on record soon after it arrived while a fast
batch still costs few transactions. When the store cannot be written (a
lock held too long, a full disk), the results stay in memory and the write
is tried again with backoff until it goes through: a message that was sent
is never sent again because its record could not be written at once.
``StoreHealth`` says so in one log line when the store fails and one when it
answers again, not a line per try.

A worker asked to stop while the store fails tries for ``STOP_GRACE``
seconds more, then gives up: it logs the ids of the messages whose results
it could not write (they were handed to the provider, and go again once
their lease runs out) and stops, rather than ignore the signal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from postroom.errors import StoreUnavailable
from postroom.store import Disposition, NewMessage, Store

log = logging.getLogger("postroom.worker")

FLUSH_EVERY = 100
FLUSH_AFTER = 0.5  # seconds
RETRY_FIRST = 0.05
RETRY_MAX = 2.0
STOP_GRACE = 10.0  # seconds a stopping worker goes on trying a store that fails

T = TypeVar("T")


class StoreHealth:
    """Whether the store answered last time; logs only the changes. With the
    worker's ``stop`` event, it says when to give up on a store that fails."""

    def __init__(self, stop: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._down: StoreUnavailable | None = None
        self._stop = stop
        self._clock = clock
        self._stopping_since: float | None = None

    def given_up(self) -> bool:
        """Whether the worker was asked to stop ``STOP_GRACE`` seconds ago or more."""
        if self._stop is None or not self._stop.is_set():
            return False
        now = self._clock()
        with self._lock:
            if self._stopping_since is None:
                self._stopping_since = now
            return now - self._stopping_since >= STOP_GRACE

    def failed(self, error: StoreUnavailable, doing: str) -> None:
        with self._lock:
            changed = self._down is None or self._down.problem != error.problem
            self._down = error
        if changed:
            log.error("%s (while %s); keeping what is not written in memory and trying again",
                      error, doing)

    def answered(self) -> None:
        with self._lock:
            was, self._down = self._down, None
        if was is not None:
            log.warning("the outbox at %s answers again", was.where)


def persist(action: Callable[[], T], health: StoreHealth, doing: str,
            sleep: Callable[[float], None] = time.sleep) -> T:
    """Run a store ``action`` until it goes through, backing off while the store fails;
    raise its ``StoreUnavailable`` once the worker stopping has given up on it."""
    delay = RETRY_FIRST
    while True:
        try:
            result = action()
        except StoreUnavailable as error:
            health.failed(error, doing)
            if health.given_up():
                raise
            sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
            continue
        health.answered()
        return result


class Recorder:
    """Writes one claim's dispositions, a few at a time; see the module's doc.

    ``lock`` is held while writing, so the lease's heartbeat never counts the
    claim's messages halfway through a write. ``written`` is how many are on
    record.
    """

    def __init__(self, store: Store, token: str, health: StoreHealth,
                 lock: threading.Lock) -> None:
        self.store = store
        self.token = token
        self.health = health
        self.lock = lock
        self.written = 0
        self._waiting: list[Disposition] = []
        self._follow_ups: list[NewMessage] = []
        self._oldest = 0.0
        self._last = time.monotonic()

    def add(self, disposition: Disposition, follow_up: NewMessage | None = None) -> None:
        """Keep one result; write what waits when it is time."""
        now = time.monotonic()
        # Results coming slowly are written at once: the next may be long.
        slow = now - self._last >= FLUSH_AFTER
        self._last = now
        if not self._waiting:
            self._oldest = now
        self._waiting.append(disposition)
        if follow_up is not None:
            self._follow_ups.append(follow_up)
        if slow or len(self._waiting) >= FLUSH_EVERY or now - self._oldest >= FLUSH_AFTER:
            self.flush()

    def flush(self) -> None:
        """Write every result kept, trying until the store takes them."""
        if not self._waiting:
            return
        waiting, follow_ups = self._waiting, self._follow_ups

        def write() -> None:
            with self.lock:
                self.store.record(self.token, waiting, follow_ups)
                self.written += len(waiting)

        try:
            persist(write, self.health, f"recording {len(waiting)} results")
        except StoreUnavailable:
            log.error("stopping without recording the results of %d messages, as the outbox "
                      "cannot be written: %s; they were handed to the provider and will be "
                      "sent again when their lease runs out", len(waiting),
                      ", ".join(d.message_id for d in waiting))
            raise
        self._waiting, self._follow_ups = [], []
