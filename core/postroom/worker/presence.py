"""A worker's heartbeat in the store: who it is, where, and that it is still alive.

A thread writes it every ``[health] heartbeat`` seconds, so ``postroom
health`` on any host sees which workers run, which stopped cleanly (their
heartbeat is removed) and which died (theirs goes stale). On start a worker
forgets the heartbeats of workers that are surely gone: those of its own host
whose process no longer runs, and any not seen for ``forget_after``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection

from postroom.errors import StoreUnavailable
from postroom.health import HealthSettings, WorkerSeen
from postroom.store import Store

log = logging.getLogger("postroom.worker")


def process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False


class Presence:
    """Keeps this worker's heartbeat fresh from a thread; ``alive`` says whether
    the last one reached the store in time (for a liveness probe)."""

    def __init__(self, store: Store, settings: HealthSettings, worker_id: str,
                 accounts: Collection[str], clock: Callable[[], float],
                 counts: Callable[[], tuple[int, int]]) -> None:
        self.store = store
        self.settings = settings
        self.me = WorkerSeen(worker_id, socket.gethostname(), os.getpid(), clock(),
                             tuple(sorted(accounts)))
        self.counts = counts  # (sent, dead) so far
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beaten = 0.0  # monotonic time of the last heartbeat written
        self._failing = False

    def start(self) -> None:
        try:
            self._forget_the_gone()
        except StoreUnavailable as error:  # only tidying: the heartbeat says the rest
            log.warning("could not forget the heartbeats of stopped workers: %s", error)
        self._beat()
        self._thread = threading.Thread(target=self._run, name="postroom-presence",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove the heartbeat: this worker stopped as asked."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.store.forget_workers([self.me.id])
        except StoreUnavailable as error:
            log.warning("could not remove this worker's heartbeat (%s); it shows as stopped "
                        "without saying so until forgotten", error)

    @property
    def alive(self) -> bool:
        return time.monotonic() - self._beaten <= self.settings.stale_after

    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat):
            self._beat()

    def _beat(self) -> None:
        sent, dead = self.counts()
        try:
            self.store.beat(WorkerSeen(self.me.id, self.me.host, self.me.pid, self.me.started,
                                       self.me.accounts, sent, dead))
        except StoreUnavailable as error:
            if not self._failing:
                log.error("could not record this worker's heartbeat: %s", error)
            self._failing = True
            return
        if self._failing:
            log.warning("this worker's heartbeat is recorded again")
        self._failing = False
        self._beaten = time.monotonic()

    def _forget_the_gone(self) -> None:
        now = self.clock()
        me = self.me
        gone = [w.id for w in self.store.workers()
                if now - w.seen > self.settings.forget_after
                or (w.host == me.host and w.id != me.id
                    and (w.pid == me.pid or process_gone(w.pid)))]
        if gone:
            self.store.forget_workers(gone)
