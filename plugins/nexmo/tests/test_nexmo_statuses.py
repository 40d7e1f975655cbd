"""Each documented status code of the SMS API and what postroom does with it."""

from __future__ import annotations

import pytest

from postroom import Outcome
from postroom_nexmo.statuses import STATUSES, status_for

DOCUMENTED = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "14", "15", "22",
              "23", "29", "32", "33"}


def test_every_documented_code_is_known():
    assert set(STATUSES) >= DOCUMENTED
    assert all(status.hint for status in STATUSES.values())


@pytest.mark.parametrize(("code", "outcome"), [
    ("1", Outcome.THROTTLED),
    ("5", Outcome.TRANSIENT), ("10", Outcome.TRANSIENT),
    ("9", Outcome.ACCOUNT_STOPPED),
    ("4", Outcome.ACCOUNT_STOPPED), ("7", Outcome.PERMANENT), ("15", Outcome.PERMANENT),
    ("29", Outcome.PERMANENT), ("42", Outcome.PERMANENT)])
def test_outcomes(code, outcome):
    assert status_for(code).outcome is outcome


def test_refusals_of_the_account_stop_it():
    assert {c for c, s in STATUSES.items() if s.outcome is Outcome.ACCOUNT_STOPPED} == {
        "4", "8", "9", "11", "14", "32"}


def test_categories_are_stable_keys():
    assert status_for("29").category == "non-whitelisted-destination"
    assert status_for("11").category == "account-not-enabled-for-http"
    assert status_for("42").category == "status-42"
