"""The admin page's Health page, the Queue page's bulk sends and the log's batch filter,
over real HTTP, checked against the store."""

from __future__ import annotations

import html
import os
import re

import requests
from loopback.web import csrf_of

from postroom import SmsMessage
from postroom.health import WorkerSeen

WHO = "Ann (web, 127.0.0.1)"


def text_of(answer: requests.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.text)))


def texts(count: int, start: int = 0) -> list[SmsMessage]:
    return [SmsMessage(to=f"07700 9{i:05d}", text="closed today", region="GB")
            for i in range(start, start + count)]


def test_health_says_what_needs_a_person(admin, site, store_view):
    now = store_view.clock()
    store_view.store.beat(WorkerSeen("worker-abc", "host-1", os.getpid(), now - 60))
    calm = admin.get(f"{site}/health", timeout=10)
    assert calm.status_code == 200
    assert "Nothing needs a person" in text_of(calm)
    assert "worker-abc" in calm.text and "running" in text_of(calm)

    store_view.store.pause("texts", now + 7200, "account_stopped: out of credit")
    worried = admin.get(f"{site}/health", timeout=10)
    page = text_of(worried)
    assert worried.status_code == 200
    assert "1 thing needs a person" in page
    assert "account texts is paused until" in page and "out of credit" in page


def test_the_queue_shows_a_bulk_send_with_its_finish_and_cancels_it(admin, site, store_view):
    ids = store_view.send("texts", *texts(3))
    queue = admin.get(f"{site}/queue", timeout=10)
    row = re.search(rf'<tr id="batch-{ids.batch}">(.*?)</tr>', queue.text, re.S)
    assert row, queue.text
    words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row.group(1))))
    assert "0 of 3" in words and "texts" in words
    assert "no estimate" not in words and "done" not in words  # a time, from the estimate

    answer = admin.post(f"{site}/queue/cancel", timeout=10, data={
        "csrf": csrf_of(queue.text), "batch": ids.batch, "reason": "wrong list"})
    assert "3 messages cancelled" in text_of(answer)
    found = store_view.batch(ids.batch)
    assert (found.cancelled, found.waiting) == (3, 0)
    notes = store_view.log(batch=ids.batch)
    assert len(notes) == 3 and {(n.outcome, n.info["by"]) for n in notes} == {("cancelled", WHO)}


def test_the_log_filters_by_batch(admin, site, store_view):
    first = store_view.send("texts", *texts(2), now=True)
    second = store_view.send("texts", *texts(2, 50), now=True)
    store_view.run_worker(once=True, accounts=["texts"], wait=0)

    page = admin.get(f"{site}/log", params={"batch": first.batch}, timeout=10)

    shown = text_of(page)
    assert "2 entries" in shown
    assert "+447700900000" in shown and "+447700900050" not in shown
    assert f'value="{first.batch}"' in page.text  # the filter keeps what was asked
    fragment = admin.get(f"{site}/log", params={"batch": second.batch},
                         headers={"HX-Request": "true"}, timeout=10)
    assert "<html" not in fragment.text and "+447700900050" in text_of(fragment)
