"""Waking idle workers at once: PostgreSQL's LISTEN and NOTIFY on the store's channel.

A transaction that makes a message due calls ``notify``; PostgreSQL delivers
the notification when it commits (once per transaction, however often it was
called), and never if it rolls back. A worker with nothing to do waits in
``Wakeup.wait`` on a connection of its own that listens on the channel, and
starts at once instead of at its next poll. Polling stays for what no
transaction announces: scheduled messages falling due, leases running out.
"""

from __future__ import annotations

import threading
import time

import psycopg

SLICE = 0.2  # seconds: how soon a wait sees its stop (SIGTERM)


def notify(cur: psycopg.Cursor, channel: str) -> None:
    """Tell the channel's listeners, when ``cur``'s transaction commits, that work is due."""
    cur.execute("SELECT pg_notify(%s, '')", (channel,))


class Wakeup:
    """Waits for a notification on ``channel`` of the database at ``url``.

    The listening connection is opened on the first wait and again after the
    server went away; while it cannot be, a wait just lasts its timeout.
    """

    def __init__(self, url: str, channel: str) -> None:
        self._url = url
        self._channel = channel
        self._listener: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> psycopg.Connection | None:
        if self._listener is None or self._listener.closed:
            try:
                self._listener = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
                self._listener.execute(f'LISTEN "{self._channel}"')
            except psycopg.OperationalError:
                self._listener = None
        return self._listener

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Return after ``timeout`` seconds, when ``stop`` is set, or on a notification.

        One thread listens at a time; another waiting meanwhile (a worker's
        other lane) waits on its ``stop`` alone rather than queueing for the
        listener, so that setting it ends the wait at once.
        """
        deadline = time.monotonic() + timeout
        if self._lock.acquire(blocking=False):
            try:
                listener = self._connect()
                while listener is not None and not stop.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    for _ in listener.notifies(timeout=min(left, SLICE), stop_after=1):
                        return
            except psycopg.OperationalError:  # the server went away: connect again next time
                self._drop_listener()
            finally:
                self._lock.release()
        stop.wait(max(0.0, deadline - time.monotonic()))

    def _drop_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def close(self) -> None:
        with self._lock:
            self._drop_listener()
