"""The API and signature secrets never reach a result, diagnosis, error or log."""

from __future__ import annotations

import json
import logging
import socket
from urllib.parse import quote, quote_plus

import pytest

from postroom import PluginError
from postroom.dispatch import each_result
from postroom.http import scrub

SECRET = "s3cr3t&key=with/odd+chars"  # characters that URL-encoding changes
SIGNING = "sig&secret=value/+"


def leaks(text: str) -> bool:
    return any(form in text for form in (SECRET, quote(SECRET, safe=""), quote_plus(SECRET),
                                         SIGNING, quote_plus(SIGNING)))


def test_scrub_removes_every_spelling_of_a_secret():
    text = f"GET /x?api_secret={quote_plus(SECRET)}&raw={SECRET}&q={quote(SECRET, safe='')}"
    assert leaks(text)
    cleaned = scrub(text, [SECRET])
    assert not leaks(cleaned) and cleaned.count("***") == 3


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["refused", "untrusted", "http-500", "http-401", "http-403-problem",
                        "timeout", "bad-credentials"])
def failing_engine(request, make_engine, settings, api):
    """An engine whose every call fails in one way, with both secrets set."""
    account = {**settings, "api_secret": SECRET, "timeout": 0.3}
    if request.param == "refused":
        account["base_url"] = f"https://127.0.0.1:{closed_port()}"
    elif request.param == "untrusted":
        del account["ca_bundle"]
    elif request.param == "http-500":
        api.answer_next(500, f"oops {SECRET}", times=100)
    elif request.param == "http-401":
        api.answer_next(401, times=100)
    elif request.param == "http-403-problem":  # the title and detail are quoted
        problem = {"title": f"Forbidden for {SECRET}", "detail": f"api_secret={quote_plus(SECRET)}"}
        api.answer_next(403, json.dumps(problem), "application/problem+json", times=100)
    elif request.param == "timeout":
        api.delay = 5
    else:
        account["api_secret"] = SECRET + "x"
    return make_engine(account), make_engine({**account, "signature_secret": SIGNING})


def test_no_failure_shows_a_secret(failing_engine, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []
    for engine in failing_engine:
        message = engine.message("texts", to="+447700900123", text="Hi")
        config = engine.account("texts").config
        (result,) = each_result(engine.registry.hook.postroom_send(config=config,
                                                                    messages=[message]))
        assert not result.ok
        seen += [repr(result), repr(config), repr(engine.test("texts", target="+447700900123"))]
        with pytest.raises(PluginError) as caught:
            engine.credits("texts")
        seen.append(str(caught.value))
        seen.append(repr(engine.validate()))
    seen.append(caplog.text)
    assert all(seen) and not any(leaks(text) for text in seen)
