"""Reading the gateway's answers: problem documents and per-message statuses, offline."""

from __future__ import annotations

import json

import pytest

from postroom import Outcome
from postroom.http import read_problem
from postroom_sms_credit.refusals import refusal
from postroom_sms_credit.statuses import verdict

ERRORS = "https://developer.bulksms.com/json/v1/errors#"


def refused(status: int, body: object = b"", retry_after: float | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return refusal(status, read_problem(raw), "api.example.org", "/messages", retry_after)


@pytest.mark.parametrize(("status", "body", "outcome", "category"), [
    (403, {"type": ERRORS + "insufficient-credits", "title": "Insufficient Credits"},
     Outcome.ACCOUNT_STOPPED, "insufficient-credits"),
    (403, {"title": "Insufficient Credits", "status": 403}, Outcome.ACCOUNT_STOPPED,
     "insufficient-credits"),
    (403, {"type": ERRORS + "forbidden", "title": "Forbidden", "detail": "quota used"},
     Outcome.ACCOUNT_STOPPED, "forbidden"),
    (401, {"type": ERRORS + "authentication-failed"}, Outcome.ACCOUNT_STOPPED, "auth-failed"),
    (400, {"type": ERRORS + "bad-request", "detail": "to: bad"}, Outcome.PERMANENT,
     "bad-request"),
    (404, b"<html>not here</html>", Outcome.ACCOUNT_STOPPED, "not-found"),
    (429, b"", Outcome.THROTTLED, "throttled"),
    (500, b"oops", Outcome.TRANSIENT, "server-error"),
    (413, b"", Outcome.TRANSIENT, "http-error"),
])
def test_each_error_answer_has_an_outcome(status, body, outcome, category):
    error = refused(status, body)
    assert (error.outcome, error.category, error.code) == (outcome, category, f"HTTP {status}")
    assert error.text and error.hint


def test_only_a_refused_content_is_split_and_only_a_lost_answer_resubmitted():
    assert refused(400).splittable and not refused(400).batch_wide
    assert refused(503).maybe_processed and not refused(403).maybe_processed
    assert refused(429, retry_after=3.0).retry_after == 3.0


def test_the_problem_detail_is_quoted():
    error = refused(403, {"type": ERRORS + "forbidden", "title": "Forbidden",
                          "detail": "Your account is suspended"})
    assert "Forbidden: Your account is suspended" in error.text


@pytest.mark.parametrize(("status", "taken", "category"), [
    ({"id": "ACCEPTED.null", "type": "ACCEPTED"}, True, ""),
    ({"type": "SCHEDULED"}, True, ""),
    ({"type": "SENT"}, True, ""),
    ({"type": "DELIVERED"}, True, ""),
    ({"type": "UNKNOWN"}, True, ""),
    ({"id": "FAILED.NOT_SENT", "type": "FAILED", "subtype": "NOT_SENT"}, False, "not-sent"),
    ({"type": "FAILED", "subtype": "BLOCKED"}, False, "blocked"),
    ({"type": "FAILED"}, False, "failed"),
    (None, False, "failed"),
])
def test_message_statuses(status, taken, category):
    found = verdict({"id": "1", "status": status})
    assert (found.taken, found.category) == (taken, category)
    assert found.status


def test_a_status_without_an_id_is_shown_from_its_parts():
    assert verdict({"status": {"type": "FAILED", "subtype": "EXPIRED"}}).status == (
        "FAILED.EXPIRED")
