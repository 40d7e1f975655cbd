"""Telling the app, and an admin, when an account's credit falls below its threshold.

Every balance read the engine makes (``test``, ``credits``, the pre-flight
check of a bulk send, the read after a batch that cost money) passes through
``CreditWatch.read``. The store records whether the account is low, so a
crossing below the threshold is told once, by whichever process read it
first, however many workers and hosts read the balance; the account must be
read above the threshold again before a new crossing is told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from attrs import frozen

from postroom.errors import amount
from postroom.results import Credits

log = logging.getLogger("postroom.credit")


@frozen
class LowCredit:
    """An account's balance fell below its threshold: ``balance`` and ``threshold``
    in ``unit``, read at ``at`` by ``source`` (``test``, ``credits``,
    ``pre-flight``, ``after a batch``)."""

    account: str
    balance: Decimal
    threshold: Decimal
    unit: str
    at: datetime
    source: str

    @property
    def text(self) -> str:
        return (f"account {self.account}: the balance is {amount(self.balance)} {self.unit}, "
                f"below the threshold of {amount(self.threshold)} (read by {self.source}); "
                "top the account up")


#: What an app registers with ``Engine.on_low_credit``.
LowCreditCallback = Callable[[LowCredit], None]


class CreditWatch:
    """The callbacks to call and the crossings to record; see the module's doc.

    ``record`` stores the read and says whether it is a new crossing;
    ``notify`` tells the admin (the engine queues a notice email).
    """

    def __init__(self, record: Callable[[str, bool], bool],
                 notify: Callable[[LowCredit], None], clock: Callable[[], float]) -> None:
        self._record = record
        self._notify = notify
        self._clock = clock
        self._callbacks: list[LowCreditCallback] = []

    def subscribe(self, callback: LowCreditCallback) -> LowCreditCallback:
        self._callbacks.append(callback)
        return callback

    def read(self, account: str, credits: Credits | None, source: str) -> LowCredit | None:
        """Note one balance read; the ``LowCredit`` told when it is a new crossing."""
        if credits is None or credits.low_threshold is None:
            return None
        if not self._record(account, credits.is_low) or not credits.is_low:
            return None
        found = LowCredit(account, credits.balance, credits.low_threshold, credits.unit,
                          datetime.fromtimestamp(self._clock(), UTC), source)
        log.warning("%s", found.text)
        self._notify(found)
        for callback in self._callbacks:
            try:
                callback(found)
            except Exception:  # one app callback's bug must not stop the others, or sending
                log.exception("a low-credit callback failed for account %s", account)
        return found
