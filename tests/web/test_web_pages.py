"""What each page shows and does, over real HTTP, checked against the store; and the
page mounted inside FastAPI and beside another ASGI app (as in a Django site)."""

from __future__ import annotations

import html
import re

import pytest
import requests
from loopback.web import csrf_of, log_in, serving
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount

from postroom.store import LogEntry
from postroom.web import create_app

WHO = "Ann (web, 127.0.0.1)"
UNKNOWN = "nobody@example.org"  # the loopback SMTP server refuses it for good (conftest)


def text_of(answer: requests.Response) -> str:
    """The page's words, tags dropped and spaces folded, for reading like a person."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.text)))


def test_accounts_show_limits_in_words_sent_today_and_a_pause(admin, site, store_view, smtp):
    store_view.send("office", to="bo@example.org", subject="Hi", text="Hello", now=True)
    store_view.run_worker(once=True, accounts=["office"], wait=0)
    store_view.store.pause("helpdesk", store_view.clock() + 600, "the server asked us to wait")

    page = text_of(admin.get(f"{site}/accounts", timeout=10))

    assert "1 a minute, 09:00\u201317:00 Mon\u2013Fri, at most 500 a day" in page
    assert "Sent today 1 of 500" in page
    assert "Paused until today" in page and "the server asked us to wait" in page
    assert "password set, from the config file" in page


def test_send_test_to_sends_through_the_server_and_logs_who(admin, site, store_view, smtp):
    token = csrf_of(admin.get(f"{site}/accounts", timeout=10).text)

    answer = admin.post(f"{site}/accounts/office/test",
                        data={"csrf": token, "target": "bo@example.org"},
                        headers={"HX-Request": "true"}, timeout=30)

    assert answer.status_code == 200
    assert "<html" not in answer.text  # only the fragment htmx swaps in
    assert "OK" in answer.text
    assert [r.recipients for r in smtp.received] == [("bo@example.org",)]
    entry, = store_view.log(outcome="test")
    assert (entry.account, entry.recipient, entry.info) == ("office", "bo@example.org",
                                                             {"by": WHO})


def test_cancel_and_retry_from_the_queue_are_logged_with_who(admin, site, store_view, smtp):
    later = store_view.send("texts", to="07700 900123", text="see you", send_at=None)[0]
    dead = store_view.send("office", to=UNKNOWN, subject="Hi", text="Hello", now=True)[0]
    store_view.run_worker(once=True, accounts=["office"], wait=0)
    assert store_view.store.find(dead).state == "dead"
    queue = admin.get(f"{site}/queue", timeout=10)
    assert UNKNOWN in html.unescape(queue.text) or dead in queue.text
    token = csrf_of(queue.text)

    cancelled = admin.post(f"{site}/queue/cancel", timeout=10,
                           data={"csrf": token, "ids": later, "reason": "wrong list"})
    retried = admin.post(f"{site}/queue/retry", data={"csrf": token, "ids": dead}, timeout=10)

    assert "1 message cancelled" in text_of(cancelled)
    assert cancelled.url.endswith(f"/messages/{later}")
    assert "1 message put back in the queue" in text_of(retried)
    assert store_view.store.find(later).state == "cancelled"
    assert store_view.store.find(dead).state == "queued"
    note, = store_view.log(outcome="cancelled")
    assert (note.message_id, note.text, note.info) == (later, "wrong list", {"by": WHO})
    assert store_view.log(outcome="requeued")[0].info == {"by": WHO}


def test_a_message_in_flight_is_left_with_why(admin, site, store_view):
    queued, = store_view.send("texts", to="07700 900123", text="hello")
    store_view.store.claim("texts", store_view.account("texts").schedule, limit=10, lease=300,
                           worker="worker-1")
    token = csrf_of(admin.get(f"{site}/queue", timeout=10).text)

    answer = admin.post(f"{site}/queue/cancel", data={"csrf": token, "ids": queued},
                        timeout=10)

    assert "a worker is sending it right now" in text_of(answer)
    assert store_view.store.find(queued).state == "inflight"


def test_the_log_filters_and_clears_older_entries(admin, site, store_view, smtp):
    store_view.send("office", to=UNKNOWN, subject="Hi", text="Hello", now=True)
    store_view.send("office", to="bo@example.org", subject="Hi", text="Hello", now=True)
    store_view.send("texts", to="07700 900123", text="hello", now=True)
    store_view.run_worker(once=True, wait=0)

    permanent = text_of(admin.get(f"{site}/log", params={"account": "office",
                                                         "outcome": "permanent"}, timeout=10))
    texts = text_of(admin.get(f"{site}/log", params={"recipient": "7700"}, timeout=10))
    bad_since = text_of(admin.get(f"{site}/log", params={"since": "yesterday"}, timeout=10))

    assert "1 entry" in permanent and UNKNOWN in permanent and "550" in permanent
    assert "no such user" in permanent and "bo@example.org" not in permanent
    assert "1 entry" in texts and "+447700900123" in texts
    assert "since: expected an ISO date and time" in bad_since
    token = csrf_of(admin.get(f"{site}/log", timeout=10).text)
    cleared = admin.post(f"{site}/log/clear", data={"csrf": token, "before": "0d"}, timeout=10)
    assert "deleted 3 log entries" in text_of(cleared)
    note, = store_view.log()
    assert (note.outcome, note.info) == ("cleared", {"by": WHO})
    assert "3 deleted" in note.text


def test_an_estimate_says_when_the_last_goes_and_warns(admin, site):
    small = text_of(admin.get(f"{site}/estimate", params={"account": "office", "count": "20"},
                              timeout=10))
    large = text_of(admin.get(f"{site}/estimate", timeout=10,
                              params={"account": "helpdesk", "count": "5000"}))
    wrong = text_of(admin.get(f"{site}/estimate", params={"account": "office", "count": "-3"},
                              timeout=10))

    assert "20 messages through office" in small and "Rate 30 a minute" in small
    assert "Per day 480" in large and "longer than the 3 days configured" in large
    assert "count: expected a whole number" in wrong


def test_a_template_preview_shows_each_part_the_sms_facts_and_the_locale(admin, site):
    values = ("appointment=2026-03-03T09:30Z\nnote=Bring your card\nclinic=North Street\n"
              "office_phone=01632 960123")
    query = {"template": "reminder", "to": "07700 900123", "name": "Ann", "values": values}

    base = text_of(admin.get(f"{site}/templates", params={**query, "account": "texts"},
                             timeout=10))
    french = text_of(admin.get(f"{site}/templates", params={**query, "locale": "fr"},
                               timeout=10))
    frame = admin.get(f"{site}/templates/html", params=query, timeout=10)
    missing = text_of(admin.get(f"{site}/templates", params={"template": "reminder"},
                                timeout=10))

    assert "Hi Ann, see you 03/03 at 09:30 at North Street" in base
    assert "Encoding GSM-7" in base and "Segments 1 of up to 160" in base
    assert "Cost 0.04 (0.04 a segment)" in base
    assert "Email version fr" in french and "SMS version fr" in french
    assert "Hello Ann" in frame.text and "default-src 'none'" in \
        frame.headers["content-security-policy"]
    assert "is undefined" in missing


def test_a_page_for_a_message_the_outbox_does_not_know_is_404(admin, site):
    answer = admin.get(f"{site}/messages/no-such-id", timeout=10)
    assert answer.status_code == 404
    assert "no message with this id" in text_of(answer)
    assert admin.get(f"{site}/accounts/nope/credits", timeout=10).status_code == 404


def test_a_pruned_message_shows_its_log_and_says_where_it_went(admin, site, store_view):
    store_view.store.append_log([LogEntry("pruned-1", store_view.clock(), "office", "smtp",
                                          "ann@example.org", "Your appointment", "accepted",
                                          1)])
    answer = admin.get(f"{site}/messages/pruned-1", timeout=10)
    assert answer.status_code == 200
    words = text_of(answer)
    assert "The outbox no longer holds this message" in words and "queue prune" in words
    assert "ann@example.org" in words and "no message with this id" not in words


def test_mounted_in_fastapi_every_link_keeps_the_prefix(engine, password):
    fastapi = pytest.importorskip("fastapi")
    host = fastapi.FastAPI()

    @host.get("/")
    def hello() -> dict:
        return {"app": "the host's own"}

    host.mount("/admin/postroom", create_app(engine))
    with serving(host) as url:
        assert requests.get(url, timeout=10).json() == {"app": "the host's own"}
        first = requests.get(f"{url}/admin/postroom/queue", allow_redirects=False, timeout=10)
        assert first.headers["location"] == "/admin/postroom/login?next=/queue"
        session = log_in(f"{url}/admin/postroom", password)
        page = session.get(f"{url}/admin/postroom/queue", timeout=10).text
    links = re.findall(r'(?:href|action|src)="(/[^"]*)"', page)
    assert links and all(link.startswith("/admin/postroom/") for link in links), links


def test_beside_another_asgi_app_as_in_a_django_site(engine, password):
    async def other_site(scope, receive, send):  # stands for get_asgi_application()
        await PlainTextResponse(f"other site at {scope['path']}")(scope, receive, send)

    application = Starlette(routes=[Mount("/postroom", app=create_app(engine)),
                                    Mount("/", app=other_site)])
    with serving(application) as url:
        assert requests.get(f"{url}/shop/", timeout=10).text == "other site at /shop/"
        session = log_in(f"{url}/postroom", password)
        page = session.get(f"{url}/postroom/accounts", timeout=10)
    assert page.status_code == 200 and 'href="/postroom/static/postroom.css"' in page.text


def test_the_inbox_shows_what_came_in_and_filters_it(admin, site, store_view):
    from postroom.store import InboxEntry

    sent = store_view.send("office", to="bo@example.org", subject="Hi", text="Hello")[0]
    now = store_view.clock()
    store_view.store.add_inbox([
        InboxEntry("in-1", now - 60, "sms", "texts", "opt_out", "+447700900123",
                   "+447700900000", "STOP"),
        InboxEntry("in-2", now - 30, "email", "office", "bounce", "mailer-daemon@example.org",
                   "desk@example.org", "550 5.1.1 bo@example.org: no such user",
                   subject="Undelivered Mail Returned to Sender", message_id=sent),
    ])

    answer = admin.get(f"{site}/inbox", timeout=10)
    page = text_of(answer)
    assert answer.status_code == 200 and 'href="/inbox"' in answer.text  # in the menu
    assert "opt out +447700900123 STOP" in page
    assert "bounce mailer-daemon@example.org Undelivered Mail Returned to Sender" in page
    assert f'href="/messages/{sent}"' in answer.text  # the bounce leads to what was sent
    assert page.index("Undelivered") < page.index("+447700900123")  # newest first

    only = admin.get(f"{site}/inbox", params={"kind": "opt_out"},
                     headers={"HX-Request": "true"}, timeout=10)
    assert "<html" not in only.text and "+447700900123" in only.text
    assert "Undelivered" not in only.text
    wrong = text_of(admin.get(f"{site}/inbox", params={"since": "soon"}, timeout=10))
    assert "since" in wrong and "+447700900123" not in wrong
    assert "Nothing came in that matches" in text_of(
        admin.get(f"{site}/inbox", params={"sender": "nobody"}, timeout=10))
