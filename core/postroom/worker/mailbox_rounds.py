"""Reading the incoming mailboxes of the accounts a worker serves, on their schedules.

An account with a mailbox is read at its checks (``check_every``, ``at``;
see ``postroom.check_times.mailbox_due``), or every ``mailbox.check_every``
seconds when its schedule sets none. Every worker serving the account works
out the same due time from the store's record of the last read, and the
store lets one of them take each read (``Store.take_mailbox_read``), so two
workers never read one mailbox at once. A worker reads in a thread of its
own, so a slow mail server never holds up sending. An account switched off,
in the config or by an operator, is not read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from postroom.check_times import mailbox_due
from postroom.errors import StoreUnavailable
from postroom.mailbox import MailboxFailed
from postroom.store import AccountState
from postroom.worker.host import WorkerHost

log = logging.getLogger("postroom.worker")


class MailboxRounds:
    """Reads the mailboxes that are due; ``serves`` says which accounts are this worker's.
    The thread stops with the worker (``stop``) or at ``close``."""

    def __init__(self, host: WorkerHost, serves: Callable[[str], bool],
                 stop: threading.Event) -> None:
        self.host = host
        self.serves = serves
        self.stop = stop
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def accounts(self) -> list[str]:
        """The accounts with a mailbox this worker reads."""
        return [name for name, account in self.host.config.accounts.items()
                if account.mailbox is not None and account.enabled and self.serves(name)]

    def run_due(self) -> float | None:
        """Read every mailbox due now that no other worker took; return when the next
        read falls due (epoch seconds), or None when none is to come."""
        host = self.host
        states = host.store.account_states()
        upcoming = []
        for name in self.accounts:
            state = states.get(name, AccountState())
            if not state.enabled:
                continue
            account = host.config.accounts[name]
            every = timedelta(seconds=account.mailbox.check_every)
            now = datetime.fromtimestamp(host.clock(), UTC)
            last = None if state.mailbox_read_at is None else datetime.fromtimestamp(
                state.mailbox_read_at, UTC)
            due = mailbox_due(account.schedule, every, last, now)
            if due is not None and due <= now and host.store.take_mailbox_read(
                    name, due.timestamp()):
                self._read(name)
                due = mailbox_due(account.schedule, every, now, now)
            if due is not None:
                upcoming.append(due.timestamp())
        return min(upcoming, default=None)

    def _read(self, name: str) -> None:
        try:
            report = self.host.check_mailbox(name)
        except MailboxFailed as failed:
            log.warning("account %s: the mailbox could not be read: %s", name, failed)
        except StoreUnavailable as error:
            log.error("account %s: the mailbox's mail could not be recorded: %s", name, error)
        except Exception:  # a bug must not stop the worker's reads of the other mailboxes
            log.exception("account %s: reading the mailbox failed", name)
        else:
            log.info("account %s: mailbox read: %s", name, report)

    def start(self) -> None:
        """Read on schedule in a thread until ``stop`` is set (nothing to do: no thread)."""
        if not self.accounts:
            return
        self._thread = threading.Thread(target=self._run, name="postroom-mailboxes",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop reading (after the read in hand) and wait for the thread."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        poll = self.host.config.delivery.poll
        while not (self.stop.is_set() or self._closed.is_set()):
            try:
                due = self.run_due()
            except StoreUnavailable as error:
                log.error("the mailboxes' schedule could not be read: %s", error)
                due = None
            wait = poll if due is None else min(max(due - self.host.clock(), 0.05), poll)
            self._closed.wait(wait)
