"""The account controls of the admin page over real HTTP, checked against the store:
Send now (flush), Switch off and on, Reset counter, each logged with who."""

from __future__ import annotations

import copy
import html
import re
from datetime import date, time
from zoneinfo import ZoneInfo

import requests
from loopback.web import csrf_of

from postroom.scheduling import Schedule, Session
from postroom.web.words import schedule_in_words

LONDON = ZoneInfo("Europe/London")
WHO = "Ann (web, 127.0.0.1)"


def text_of(answer: requests.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.text)))


def post(admin: requests.Session, site: str, path: str, **data: str) -> requests.Response:
    token = csrf_of(admin.get(f"{site}/accounts", timeout=10).text)
    return admin.post(f"{site}{path}", data={"csrf": token, **data}, timeout=30)


def test_switch_off_holds_the_account_and_switch_on_lets_it_go(admin, site, store_view):
    (queued,) = store_view.send("texts", to="07700 900123", text="hello")
    answer = post(admin, site, "/accounts/texts/disable", reason="new provider")
    page = text_of(answer)
    assert answer.url.endswith("/accounts#account-texts")  # back to its card
    assert "texts switched off: its messages wait, nothing is lost" in page
    assert f"Held: disabled by {WHO}: new provider" in page
    assert "Switch on" in page
    assert store_view.run_worker(once=True, accounts=["texts"], wait=0).sent == 0
    assert store_view.store.find(queued).state == "queued"

    answer = post(admin, site, "/accounts/texts/enable")
    assert "texts switched on" in text_of(answer)
    assert store_view.run_worker(once=True, accounts=["texts"], wait=0).sent == 1
    assert [(e.outcome, e.info) for e in store_view.log(account="texts")
            if e.outcome in ("disabled", "enabled")] == [("enabled", {"by": WHO}),
                                                         ("disabled", {"by": WHO})]


def test_send_now_sends_what_a_manual_account_holds(admin, site, make_engine, site_config,
                                                    smtp):
    manual = copy.deepcopy(site_config)
    manual["accounts"]["office"]["schedule"]["mode"] = "manual"
    worker = make_engine(manual)  # a worker whose config holds the account's mail
    queued = worker.send("office", to="bo@example.org", subject="Hi", text="Hello")
    assert worker.run_worker(once=True, accounts=["office"], wait=0).sent == 0
    answer = post(admin, site, "/accounts/office/flush")
    assert "office: 1 waiting message to go now" in text_of(answer)
    assert worker.run_worker(once=True, accounts=["office"], wait=0).sent == 1
    assert worker.store.find(queued[0]).state == "sent"
    assert [r.recipients for r in smtp.received] == [("bo@example.org",)]
    (note,) = worker.log(outcome="flushed")
    assert note.info == {"by": WHO}


def test_reset_counter_counts_sent_today_from_now(admin, site, store_view, smtp):
    store_view.send("office", to="bo@example.org", subject="Hi", text="Hello", now=True)
    store_view.run_worker(once=True, accounts=["office"], wait=0)
    assert "Sent today 1 of 500" in text_of(admin.get(f"{site}/accounts", timeout=10))
    answer = post(admin, site, "/accounts/office/reset-counter")
    assert "office: sent today 0 of 500 since the reset at" in text_of(answer)
    assert store_view.sent_today("office").sent == 0
    (note,) = store_view.log(outcome="counter-reset")
    assert (note.text, note.info) == ("was 1 of 500", {"by": WHO})


def test_an_unknown_account_is_404(admin, site):
    assert post(admin, site, "/accounts/post/disable").status_code == 404


def test_dated_sessions_read_in_the_schedule_line():
    session = Session(date(2026, 12, 3), time(9), time(12))
    schedule = Schedule(timezone=LONDON, sessions=(session,), per_minute=2)
    assert schedule_in_words(schedule, LONDON) == "2 a minute, 09:00\u201312:00 Thu 3 Dec 2026"
