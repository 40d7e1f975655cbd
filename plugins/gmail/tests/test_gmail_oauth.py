"""OAuth2: XOAUTH2 logins with access tokens from a real token endpoint, kept and renewed.

The loopback Gmail takes only tokens the endpoint issued for the user and
that have not expired or been revoked, so every renewal here is checked by
the server, not assumed.
"""

from __future__ import annotations

from collections import Counter

import pytest
from loopback.ports import refused_port

from postroom import Outcome
from postroom_gmail.tokens import EXPIRY_MARGIN

ADDRESS = "ann.lee@gmail.com"
REFRESH_TOKEN = "1//loopback-Refresh-Token-Q9x"


def test_a_batch_logs_in_with_xoauth2(gmail, engine, messages, tokens):
    results = engine(gmail).deliver("g", messages(3))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert gmail.handler.oauth_logins == [ADDRESS]
    assert gmail.logins == []  # no password login
    assert gmail.commands == Counter(EHLO=1, MAIL=3, RCPT=3, DATA=3)
    assert tokens.calls == 1


def test_the_token_is_kept_across_batches(gmail, engine, messages, tokens):
    account = engine(gmail)

    first = account.deliver("g", messages(4))
    second = account.deliver("g", messages(4))

    assert all(r.ok for r in first + second)
    assert gmail.handler.oauth_logins == [ADDRESS, ADDRESS]  # one session per batch
    assert tokens.calls == 1
    assert len(tokens.issued) == 1


def test_a_token_about_to_expire_is_renewed_before_login(gmail, engine, messages, tokens, clock):
    account = engine(gmail)
    account.deliver("g", messages(1))

    clock.advance(tokens.lifetime - EXPIRY_MARGIN + 1)
    results = account.deliver("g", messages(1))

    assert results[0].ok, results
    assert tokens.calls == 2
    assert gmail.handler.refused_tokens == 0  # renewed in time: the server never saw it stale


def test_a_token_still_fresh_is_not_renewed(gmail, engine, messages, tokens, clock):
    account = engine(gmail)
    account.deliver("g", messages(1))

    clock.advance(tokens.lifetime - EXPIRY_MARGIN - 1)
    account.deliver("g", messages(1))

    assert tokens.calls == 1


def test_a_token_the_server_refuses_is_renewed_once(gmail, engine, messages, tokens):
    account = engine(gmail)
    account.deliver("g", messages(1))
    tokens.expire_all()  # Google ended it early; the kept one looks fine to the client

    results = account.deliver("g", messages(2))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2
    assert gmail.handler.refused_tokens == 1
    assert tokens.calls == 2
    assert gmail.connections == 2  # the retry went over the same connection


def test_a_fresh_token_refused_too_is_not_retried_again(gmail_server, engine, messages, tokens):
    # The refresh token was granted by someone else: each token is for the wrong user.
    server = gmail_server()
    tokens.grants[REFRESH_TOKEN] = "someone.else@gmail.com"

    results = engine(server).deliver("g", messages(2))

    assert [r.outcome for r in results] == [Outcome.ACCOUNT_STOPPED] * 2
    assert results[0].code == "535"
    assert "with XOAUTH2 failed: 535" in results[0].text
    assert "the refresh token must have been granted by this very address" in results[0].text
    assert (server.handler.refused_tokens, tokens.calls) == (2, 2)
    assert server.received == []


def test_a_revoked_grant_stops_the_account_before_connecting(gmail, engine, messages, tokens):
    tokens.revoke(REFRESH_TOKEN)

    results = engine(gmail).deliver("g", messages(2))

    assert [r.outcome for r in results] == [Outcome.ACCOUNT_STOPPED] * 2
    assert "invalid_grant (Token has been expired or revoked.)" in results[0].text
    assert "create a new refresh token" in results[0].text
    assert gmail.connections == 0


def test_a_grant_revoked_while_its_token_is_kept(gmail, engine, messages, tokens):
    # Revoking the grant voids the kept access token: the server refuses it, the
    # renewal meets invalid_grant, and the account stops with that reason.
    account = engine(gmail)
    account.deliver("g", messages(1))
    tokens.revoke(REFRESH_TOKEN)

    results = account.deliver("g", messages(2))

    assert [r.outcome for r in results] == [Outcome.ACCOUNT_STOPPED] * 2
    assert results[0].code == "535"
    assert "a new one could not be had" in results[0].text
    assert "the refresh token was revoked or has expired" in results[0].text
    assert gmail.handler.refused_tokens == 1
    # The refused token is forgotten: the next batch asks for a new one, and stops there.
    [again] = account.deliver("g", messages(1))
    assert again.outcome is Outcome.ACCOUNT_STOPPED
    assert "invalid_grant" in again.text
    assert gmail.connections == 2


def test_a_wrong_client_secret(gmail, engine, messages, tokens):
    results = engine(gmail, oauth2={"client_id": tokens.client_id, "client_secret": "wrong",
                                    "refresh_token": REFRESH_TOKEN,
                                    "token_url": tokens.url}).deliver("g", messages(1))

    assert results[0].outcome is Outcome.ACCOUNT_STOPPED
    assert "refused the OAuth client: HTTP 401 invalid_client (Unauthorized)" in results[0].text
    assert "check oauth2.client_id and oauth2.client_secret" in results[0].text


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_busy_token_endpoint_is_tried_again_later(gmail, engine, messages, tokens, status):
    tokens.answer_next(status, {"error": "internal_failure"})

    results = engine(gmail).deliver("g", messages(2))

    # No login, so nothing was handed over: the account pauses as a whole.
    assert [r.outcome for r in results] == [Outcome.UNREACHABLE] * 2
    assert gmail.connections == 0


def test_an_unreachable_token_endpoint_is_tried_again_later(gmail, engine, messages, account):
    settings = account(gmail)
    settings["oauth2"]["token_url"] = f"https://127.0.0.1:{refused_port()}/token"

    results = engine(gmail, oauth2=settings["oauth2"]).deliver("g", messages(1))

    assert results[0].outcome is Outcome.UNREACHABLE
    assert "cannot reach the token endpoint" in results[0].text
    assert "Connection refused" in results[0].text
