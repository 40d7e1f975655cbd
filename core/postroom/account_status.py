"""What an operator sees of one account: on or off and why, its mode, sent today against
the daily cap, a pause, low credit. Made from the store's shared state by ``status_of``."""

from __future__ import annotations

from datetime import UTC, datetime

from attrs import frozen

from postroom.check_times import next_release
from postroom.config import Account
from postroom.store import AccountPause
from postroom.store.accounting import AccountState, counting_from


@frozen
class SentToday:
    """``sent`` messages since ``since`` (the start of the account's day in its time
    zone, or an operator's reset of the counter since then: ``reset``), against
    the daily cap ``cap`` (None: no cap)."""

    sent: int
    cap: int | None
    since: datetime
    reset: bool

    @property
    def short(self) -> str:
        """``12/500``, or ``12`` with no cap."""
        return f"{self.sent}/{self.cap}" if self.cap is not None else f"{self.sent}"

    @property
    def text(self) -> str:
        count = f"{self.sent} of {self.cap}" if self.cap is not None else f"{self.sent}"
        return count + (f" since the reset at {self.since.strftime('%H:%M %Z')}"
                        if self.reset else "")


@frozen
class AccountStatus:
    """One account as ``postroom queue`` and the admin page show it.

    ``enabled`` is false when the config (``enabled = false``) or an operator
    (``disabled_by``, ``disabled_at``) switched it off; ``why_held`` says in
    words why all its messages wait, if they do (off, manual sending), and
    ``pause`` holds a pause (throttled, out of credit, unreachable).
    ``next_check`` is a scheduled account's next look at its queue.
    """

    account: str
    mode: str
    enabled: bool
    why_held: str
    sent_today: SentToday
    pause: AccountPause | None = None
    disabled_at: datetime | None = None
    disabled_by: str = ""
    low_credit_since: datetime | None = None
    next_check: datetime | None = None


def sent_today_since(account: Account, state: AccountState, now: float) -> tuple[float, bool]:
    """Where the account's sent-today count starts at ``now``, and whether that is a reset."""
    since = counting_from(account.schedule, now, state.counted_from)
    return since, state.counted_from is not None and since == state.counted_from


def _moment(epoch: float | None, account: Account) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, account.schedule.timezone)


def status_of(account: Account, state: AccountState, pause: AccountPause | None, sent: int,
              now: float) -> AccountStatus:
    """The status of ``account`` from its shared ``state``, its ``pause`` and the
    ``sent`` count since ``sent_today_since``."""
    schedule = account.schedule
    since, reset = sent_today_since(account, state, now)
    if not account.enabled:
        why = "disabled in the config (enabled = false)"
    elif not state.enabled:
        why = "disabled by " + (state.disabled_by or "an operator") + (
            f": {state.disabled_reason}" if state.disabled_reason else "")
    elif schedule.mode == "manual":
        why = "manual sending: held until someone flushes the queue"
    else:
        why = ""
    check = next_release(schedule, datetime.fromtimestamp(now, UTC))
    return AccountStatus(account.name, schedule.mode, account.enabled and state.enabled, why,
                         SentToday(sent, schedule.daily_cap, _moment(since, account), reset),
                         pause, _moment(state.disabled_at, account), state.disabled_by,
                         _moment(state.low_credit_at, account), _moment(check, account))
