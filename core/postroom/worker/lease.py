"""Keeping a claim's lease alive while its batch is in hand.

A thread renews the lease every third of its length, so a slow batch is
never taken by another worker while this one is still sending it. If the
lease cannot be renewed (the store does not answer), or another worker took
some of the messages after all, ``in_danger`` turns true before the lease
could run out, and the worker hands no further message of the batch to the
plugin.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from postroom.errors import StoreUnavailable
from postroom.store import Store
from postroom.worker.recording import StoreHealth


class Heartbeat:
    """Renews the lease of the claim in hand, in a thread that runs while a claim is held."""

    def __init__(self, store: Store, lease: float, health: StoreHealth,
                 lock: threading.Lock) -> None:
        self.store = store
        self.lease = lease
        self.interval = lease / 3
        self.health = health
        self.lock = lock  # held by the recorder while it writes
        self._changed = threading.Condition()
        self._token: str | None = None
        self._outstanding: Callable[[], int] = lambda: 0
        self._renewed = 0.0
        self._lost = False
        self._closed = False
        self._running = False  # a thread serves the claims held; it ends when none is
        self._thread: threading.Thread | None = None

    def hold(self, token: str, outstanding: Callable[[], int]) -> None:
        """Keep the claim ``token`` alive; ``outstanding`` counts its messages the
        store should still hold (claimed, not yet recorded or given back)."""
        with self._changed:
            self._token, self._outstanding = token, outstanding
            self._renewed, self._lost = time.monotonic(), False
            if not self._running:
                self._running = True
                self._thread = threading.Thread(target=self._run, name="postroom-lease",
                                                daemon=True)
                self._thread.start()
            self._changed.notify()

    def drop(self) -> None:
        """The batch is done: renew nothing more."""
        with self._changed:
            self._token = None
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join()

    @property
    def in_danger(self) -> bool:
        """Whether the lease may run out before another message is done, or is lost."""
        with self._changed:
            return self._lost or time.monotonic() > self._renewed + self.lease - self.interval

    def _run(self) -> None:
        with self._changed:
            while not self._closed:
                if self._token is None:
                    self._running = False
                    return
                due = self._renewed + self.interval - time.monotonic()
                if due > 0:
                    self._changed.wait(due)
                    continue
                token, outstanding = self._token, self._outstanding
                self._changed.release()
                try:
                    renewed, lost = self._renew(token, outstanding)
                finally:
                    self._changed.acquire()
                if self._token == token:
                    self._lost = self._lost or lost
                    if renewed is not None:
                        self._renewed = renewed
                    else:  # try again shortly, before the lease could run out
                        self._changed.wait(min(self.interval, 1.0))

    def _renew(self, token: str, outstanding: Callable[[], int]) -> tuple[float | None, bool]:
        """One renewal: when it started (the lease runs from then), and whether
        another worker holds some of the claim's messages now."""
        started = time.monotonic()
        try:
            with self.lock:
                held = self.store.renew(token, self.lease)
                lost = held < outstanding()
        except StoreUnavailable as error:
            self.health.failed(error, "renewing a lease")
            return None, False
        self.health.answered()
        return started, lost
