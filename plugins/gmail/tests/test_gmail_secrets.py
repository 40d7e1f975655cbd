"""Client secrets, refresh tokens, access tokens and app passwords never reach any text."""

from __future__ import annotations

import logging
import traceback

import pytest
from loopback.gmail import DailyQuota

from postroom_gmail import TOKENS, TokenError

APP_PASSWORD = "qzvxkwhtjmbrplfd"
GOOGLE_PASSWORD = "Anns-Own-Google-Password-5"
REFRESH_TOKEN = "1//loopback-Refresh-Token-Q9x"


@pytest.fixture
def everything_logged(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def leaks(secrets: list[str], *texts: str) -> list[str]:
    return [s for s in secrets if any(s in text for text in texts)]


def test_an_oauth2_account_at_work_shows_no_secret(gmail_server, engine, messages, tokens,
                                                   everything_logged):
    server = gmail_server(faults=[DailyQuota(3)])
    account = engine(server)
    config = account.account("g").config
    login = config.login()

    seen = [repr(account.test("g")), repr(account.deliver("g", messages(2)))]
    tokens.expire_all()  # the kept token is refused, a new one fetched
    seen.append(repr(account.deliver("g", messages(2))))  # the last one meets the quota

    assert len(tokens.issued) == 2  # the secrets below include every access token
    assert server.handler.refused_tokens == 1
    assert "postroom_gmail" in {r.name for r in everything_logged.records}
    assert leaks(tokens.secret_values, *seen, repr(config), str(config), repr(login),
                 repr(config.transport(login)), repr(TOKENS), everything_logged.text,
                 *(r.content.decode() for r in server.received)) == []


def test_failures_show_no_secret(gmail, engine, messages, tokens, everything_logged):
    account = engine(gmail)
    account.deliver("g", messages(1))
    tokens.revoke(REFRESH_TOKEN)  # the kept token is refused and cannot be renewed
    login = account.account("g").config.login()

    seen = [repr(account.deliver("g", messages(1))), repr(account.test("g"))]
    with pytest.raises(TokenError) as failure:
        login.prepare(fresh=True)
    seen += [str(failure.value), "".join(traceback.format_exception(failure.value))]

    assert "invalid_grant" in seen[0] and "invalid_grant" in seen[1]
    assert leaks(tokens.secret_values, *seen, everything_logged.text) == []


def test_a_secret_the_endpoint_echoes_is_blanked_out(gmail, engine, messages, tokens):
    tokens.answer_next(400, {"error": "invalid_request",
                             "error_description": f"malformed refresh_token {REFRESH_TOKEN}"})

    [result] = engine(gmail).deliver("g", messages(1))

    assert "invalid_request (malformed refresh_token ***)" in result.text
    assert REFRESH_TOKEN not in result.text


def test_a_secret_echoed_where_the_description_is_cut_leaves_no_piece(gmail, engine, messages,
                                                                      tokens):
    # The description is cut at 200 characters; the token straddles the cut.
    padding = "x" * (200 - len(REFRESH_TOKEN) // 2)
    tokens.answer_next(400, {"error": "invalid_request",
                             "error_description": f"{padding}{REFRESH_TOKEN} and more"})

    [result] = engine(gmail).deliver("g", messages(1))

    assert f"({padding}***" in result.text
    assert REFRESH_TOKEN[:len(REFRESH_TOKEN) // 2] not in result.text


def test_app_passwords_show_nowhere(gmail, engine, messages, everything_logged):
    good = engine(gmail, login="app_password")
    refused = engine(gmail, login="app_password", app_password=GOOGLE_PASSWORD)

    seen = [repr(good.deliver("g", messages(1))), repr(good.test("g")),
            repr(refused.deliver("g", messages(1))), repr(refused.test("g")),
            repr(good.account("g").config), repr(refused.account("g").config.login()),
            repr(refused.validate())]

    assert "534" in seen[2]
    assert leaks([APP_PASSWORD, GOOGLE_PASSWORD], *seen, everything_logged.text) == []
