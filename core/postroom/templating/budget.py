"""A time budget for rendering: a template that runs too long is stopped.

Templates are admins' code, so they run in a sandbox that bounds what they
build; it cannot bound time: loops nested in loops can keep a worker busy
for hours while producing nothing. ``time_budget(seconds)`` around a render
registers its deadline with one watchdog thread; at the deadline the
watchdog raises ``RenderTimeout`` inside the rendering thread, between two
bytecodes (CPython's ``PyThreadState_SetAsyncExc``), and again every
``REPEAT`` seconds should the template's code swallow it, until the render
ends. A render that ends first leaves nothing pending behind it.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from jinja2.sandbox import SecurityError

REPEAT = 0.1
"""Seconds between a timed-out render's reminders."""


class RenderTimeout(SecurityError):
    """A render ran past its time budget (raised by the watchdog, so built without arguments)."""

    def __init__(self, message: str = "rendering took longer than the time budget") -> None:
        super().__init__(message)


def _raise_in(thread_id: int, error: type[BaseException] | None) -> None:
    # None clears an exception set earlier and not raised yet.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(error) if error else ctypes.c_void_p())


class _Watchdog:
    """Deadlines of the renders in progress, by thread, and the thread that enforces them."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._deadlines: dict[int, float] = {}
        self._fired: set[int] = set()
        self._thread: threading.Thread | None = None
        self._wakes = float("inf")  # when the watchdog looks next, on its own

    def enter(self, seconds: float) -> bool:
        """Start timing the current thread; False when a render there is timed already."""
        me = threading.get_ident()
        with self._changed:
            if me in self._deadlines:
                return False
            deadline = self._deadlines[me] = time.monotonic() + seconds
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="postroom-render-budget",
                                                daemon=True)
                self._thread.start()
            # Wake the watchdog only for a deadline before the time it looks anyway: a
            # bulk send's thousands of renders then cost it no wake-up each.
            if deadline < self._wakes:
                self._changed.notify()
        return True

    def leave(self) -> None:
        me = threading.get_ident()
        with self._changed:
            self._deadlines.pop(me, None)
            if me in self._fired:
                self._fired.discard(me)
                _raise_in(me, None)

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for thread_id, deadline in list(self._deadlines.items()):
                    if deadline <= now:
                        self._fired.add(thread_id)
                        self._deadlines[thread_id] = now + REPEAT
                        _raise_in(thread_id, RenderTimeout)
                nearest = min(self._deadlines.values(), default=None)
                self._wakes = float("inf") if nearest is None else nearest
                self._changed.wait(None if nearest is None else max(nearest - now, 0.001))


_watchdog = _Watchdog()


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raise ``RenderTimeout`` in the code inside if it runs longer than ``seconds``."""
    timed = _watchdog.enter(seconds)
    try:
        yield
    finally:
        while timed:
            try:
                _watchdog.leave()
                timed = False
            except RenderTimeout:  # a reminder that came while leaving: leave again
                continue
