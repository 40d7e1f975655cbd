"""The admin page in a real browser (Debian's Chromium through Playwright): what a person
sees and does, each step checked on the page and in the store.

With ``POSTROOM_SCREENSHOTS=folder`` the screenshot test saves each page there
(``make screenshots`` writes docs/screenshots/).
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

from postroom.store import InboxEntry

WHO = "Ann (web, 127.0.0.1)"
UNKNOWN = "nobody@example.org"  # the loopback SMTP server refuses it for good (conftest)
SAMPLE = ("appointment=2026-03-03T09:30Z\nnote=Bring your card\nclinic=North Street\n"
          "office_phone=01632 960123")


def fill_the_store(engine) -> dict[str, str]:
    """Some history for the pages: sent, refused for good, waiting and scheduled."""
    ids = {
        "sent": engine.send("office", to="ann.lee@example.org", subject="Your appointment",
                            text="See you at 9.", now=True)[0],
        "dead": engine.send("office", to=UNKNOWN, subject="Your appointment",
                            text="See you at 9.", now=True)[0],
        "text": engine.send("texts", to="07700 900123", text="See you at 9.", now=True)[0],
    }
    engine.run_worker(once=True, wait=0)
    ids["waiting"] = engine.send("texts", to="07700 900456", text="Tomorrow at 10.")[0]
    ids["scheduled"] = engine.send("office", template="reminder",
                                   recipients=["Raj Patel <raj@example.org>"],
                                   context={"appointment": "2026-03-03T11:00Z", "note": "-",
                                            "office_phone": "01632 960123",
                                            "clinic": "North Street"},
                                   send_at=_tomorrow(engine))[0]
    now = engine.clock()
    engine.store.add_inbox([
        InboxEntry("in-reply", now - 300, "sms", "texts", "reply", "+447700900123",
                   "+447700900000", "Running 10 minutes late, sorry", message_id=ids["text"]),
        InboxEntry("in-stop", now - 120, "sms", "texts", "opt_out", "+447700900789",
                   "+447700900000", "STOP"),
    ])
    return ids


def _tomorrow(engine):
    from datetime import UTC, datetime, timedelta
    return datetime.fromtimestamp(engine.clock(), UTC) + timedelta(days=1)


def test_logging_in_asks_for_the_password(page, site, browser_log_in):
    page.goto(f"{site}/queue")
    assert page.url.endswith("/login?next=/queue")
    page.get_by_label("Your name").fill("Ann")
    page.get_by_label("Password").fill("not it")
    page.get_by_role("button", name="Log in").click()
    assert "that password is not the one" in page.get_by_role("alert").inner_text()
    page.errors.clear()  # the console notes the refusal's 401, as it should

    browser_log_in(page, site)

    assert page.get_by_role("heading", level=1).inner_text() == "Accounts"
    assert "Signed in as Ann" in page.locator(".who").inner_text()
    assert page.errors == []


def test_test_shows_the_auth_diagnosis_and_its_hint(page, site, browser_log_in, store_view,
                                                     smtp):
    browser_log_in(page, site)
    card = page.locator("#account-helpdesk")

    card.get_by_role("button", name="Test", exact=True).click()

    diagnosis = card.locator(".diagnosis.failed")
    diagnosis.wait_for()
    assert "Failed at auth" in diagnosis.inner_text()
    assert diagnosis.locator(".category").inner_text() == "auth-failed"
    assert "535" in diagnosis.locator(".detail").inner_text()
    assert "check username and password" in diagnosis.locator(".hint").inner_text()
    assert page.url.endswith("/accounts")  # updated in place, no reload
    assert smtp.logins == []  # the server refused the login
    assert store_view.log() == []  # a test without a message changes nothing

    office = page.locator("#account-office")
    office.get_by_label("Send a test to").fill("bo@example.org")
    office.get_by_role("button", name="Send test").click()
    office.locator(".diagnosis.ok").wait_for()
    assert [r.recipients for r in smtp.received] == [("bo@example.org",)]
    entry, = store_view.log(outcome="test")
    assert (entry.account, entry.recipient, entry.info) == ("office", "bo@example.org",
                                                             {"by": WHO})
    assert page.errors == []


def test_cancel_a_message(page, site, browser_log_in, store_view):
    later, = store_view.send("texts", to="07700 900456", text="Tomorrow at 10.",
                             send_at=_tomorrow(store_view))
    browser_log_in(page, site)
    page.get_by_role("link", name="Queue").click()
    row = page.locator("#queue-texts")
    assert row.locator("td").nth(1).inner_text() == "1"  # scheduled

    page.get_by_label("Find a message by id").fill(later)
    page.get_by_role("button", name="Show").click()
    assert page.locator("#message-state").inner_text() == "queued"
    page.get_by_label("Why cancel it").fill("sent to the wrong list")
    page.get_by_role("button", name="Cancel this message").click()

    assert "1 message cancelled" in page.get_by_role("status").first.inner_text()
    assert page.locator("#message-state").inner_text() == "cancelled"
    log_row = page.locator("table.log tbody tr").first
    assert "cancelled" in log_row.inner_text() and WHO in log_row.inner_text()
    assert store_view.store.find(later).state == "cancelled"
    entry, = store_view.log(outcome="cancelled")
    assert (entry.message_id, entry.text, entry.info) == (later, "sent to the wrong list",
                                                          {"by": WHO})
    assert page.errors == []


def test_send_now_sends_what_a_manual_account_holds(page, site, browser_log_in, make_engine,
                                                    site_config, smtp):
    manual = copy.deepcopy(site_config)
    manual["accounts"]["office"]["schedule"]["mode"] = "manual"
    worker = make_engine(manual)  # a worker whose config holds the account's mail
    held, = worker.send("office", to="bo@example.org", subject="Hi", text="Hello")
    assert worker.run_worker(once=True, accounts=["office"], wait=0).sent == 0
    browser_log_in(page, site)

    page.locator("#account-office").get_by_role("button", name="Send now").click()

    page.wait_for_url(re.compile(r"/accounts#account-office$"))
    assert "office: 1 waiting message to go now" in page.get_by_role("status").inner_text()
    assert worker.run_worker(once=True, accounts=["office"], wait=0).sent == 1
    assert worker.store.find(held).state == "sent"
    assert [r.recipients for r in smtp.received] == [("bo@example.org",)]
    note, = worker.log(outcome="flushed")
    assert (note.account, note.info) == ("office", {"by": WHO})
    assert page.errors == []


def test_reset_counter_counts_sent_today_from_now(page, site, browser_log_in, store_view, smtp):
    store_view.send("office", to="bo@example.org", subject="Hi", text="Hello", now=True)
    store_view.run_worker(once=True, accounts=["office"], wait=0)
    browser_log_in(page, site)
    sent_today = page.locator("#account-office dt:text-is('Sent today') + dd")
    assert "1 of 500" in sent_today.inner_text()

    questions = []  # the page fixture accepts each dialog; this keeps what it asked
    page.on("dialog", lambda dialog: questions.append(dialog.message))
    page.locator("#account-office").get_by_role("button", name="Reset counter").click()

    page.wait_for_url(re.compile(r"/accounts#account-office$"))
    assert ("office: sent today 0 of 500 since the reset at"
            in page.get_by_role("status").inner_text())
    assert "0 of 500 since the reset" in sent_today.inner_text()
    assert questions == ["Count office's messages sent today from now?"]
    assert store_view.sent_today("office").sent == 0
    note, = store_view.log(outcome="counter-reset")
    assert (note.account, note.text, note.info) == ("office", "was 1 of 500", {"by": WHO})
    assert page.errors == []


def test_filter_the_log(page, site, browser_log_in, store_view, smtp):
    fill_the_store(store_view)
    browser_log_in(page, site)
    page.get_by_role("link", name="Delivery log").click()
    assert len(page.locator("table.log tbody tr").all()) == 3

    page.get_by_label("Account").select_option("office")
    page.get_by_label("Outcome").select_option("permanent")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"outcome=permanent"))
    page.locator("#log-results .count", has_text="1 entry").wait_for()

    rows = page.locator("table.log tbody tr").all()
    expected = store_view.log(account="office", outcome="permanent")
    assert [r.locator("td").nth(3).inner_text() for r in rows] == [e.recipient for e in expected]
    assert expected[0].recipient == UNKNOWN
    answer = rows[0].locator("td").nth(6).inner_text()
    assert expected[0].code in answer and "no such user" in answer

    page.get_by_label("Recipient").fill("7700")
    page.get_by_label("Account").select_option("")
    page.get_by_label("Outcome").select_option("")
    page.get_by_role("button", name="Filter").click()
    # the first filter's results also read "1 entry": wait for the new address first
    page.wait_for_url(re.compile(r"recipient=7700"))
    page.locator("#log-results .count", has_text="1 entry").wait_for()
    assert "+447700900123" in page.locator("table.log tbody").inner_text()
    assert page.errors == []


PAGES = {
    "accounts": "/accounts",
    "queue": "/queue",
    "log": "/log",
    "inbox": "/inbox",
    "estimate": "/estimate?account=helpdesk&count=5000",
    "health": "/health",
    "templates": "/templates?" + "&".join(f"{k}={v}" for k, v in {
        "template": "reminder", "to": "07700%20900123", "name": "Ann",
        "values": SAMPLE.replace("\n", "%0A").replace(" ", "%20").replace(":", "%3A")}.items()),
}

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML)"""


def test_every_page_at_laptop_and_tablet_width(page, site, browser_log_in, store_view, smtp,
                                               tmp_path):
    """Each page loads with no script or policy error, every control has a label, the
    keyboard reaches the menu, and a screenshot is kept (docs/ with make screenshots)."""
    folder = Path(os.environ.get("POSTROOM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    ids = fill_the_store(store_view)
    pages = {**PAGES, "message": f"/messages/{ids['dead']}"}
    store_view.store.pause("helpdesk", store_view.clock() + 1800,
                           "the server refused the login (535): check username and password")
    page.goto(f"{site}/login")
    page.screenshot(path=folder / "login.png")
    browser_log_in(page, site)
    page.locator("#account-helpdesk").get_by_role("button", name="Test", exact=True).click()
    page.locator("#account-helpdesk .diagnosis").wait_for()
    page.locator("#credits-texts", has_text="balance").wait_for()
    for width, height, suffix in ((1280, 900, ""), (820, 1180, "-tablet")):
        page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            if name != "accounts":
                page.goto(site + path)
            else:
                page.locator("#account-office summary").click()  # settings, secrets masked
            if name == "templates":  # the html part, in its sandboxed frame
                frame = page.frame_locator("iframe.html-preview")
                assert "Hello Ann" in frame.locator("body").inner_text()
            assert page.evaluate(UNLABELLED) == [], name
            assert page.evaluate("document.documentElement.scrollWidth") <= width, name
            page.screenshot(path=folder / f"{name}{suffix}.png", full_page=True)
        page.goto(f"{site}/accounts")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Accounts"
    assert page.errors == []
    assert {p.name for p in folder.glob("*.png")} >= {f"{n}.png" for n in pages}
