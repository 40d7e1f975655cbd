"""Keeping requests under an API key's per-second limit, across threads.

The provider counts requests per API key, whatever account or batch they
come from, so one ``Pacer`` is kept per key (and host) for the whole process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """Starts requests at least ``1 / rate`` seconds apart.

    ``wait()`` reserves the next free start time under a lock, then sleeps
    until it outside the lock, so threads queue in order without holding
    each other up longer than the spacing needs.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: float | None = None

    def wait(self) -> None:
        """Return when the caller may start its request."""
        with self._lock:
            now = self._clock()
            start = now if self._next is None else max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


_pacers: dict[tuple[str, str, float], Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(base_url: str, api_key: str, rate: float) -> Pacer:
    """The process-wide pacer of one API key at one host and rate."""
    key = (base_url, api_key, rate)
    with _pacers_lock:
        if key not in _pacers:
            _pacers[key] = Pacer(rate)
        return _pacers[key]
