"""Tokens from the identity platform through MSAL: fetched, kept, renewed, and refused.

The loopback Exchange takes only tokens the platform issued and that have
not expired or been revoked, so every renewal here is checked by the
server, not assumed.
"""

from __future__ import annotations

import pytest
from loopback.ports import refused_port

from postroom import Outcome
from postroom_smtp import EXPIRY_MARGIN

ADDRESS = "reception@contoso.example"
REFRESH_TOKEN = "0.AXEA-loopback-Refresh-Token-K2p"


@pytest.mark.parametrize("login", ["app", "delegated"])
def test_a_batch_logs_in_with_xoauth2_and_one_token(exchange, engine, messages, entra, login):
    results = engine(exchange, login=login).deliver("m", messages(3))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
    assert exchange.handler.oauth_logins == [ADDRESS]
    assert (entra.discoveries, entra.calls) == (1, 1)  # MSAL discovers the tenant, then asks
    assert [r.mail_from for r in exchange.received] == [ADDRESS] * 3


def test_the_token_is_kept_across_batches(exchange, engine, messages, entra):
    account = engine(exchange)

    first = account.deliver("m", messages(2))
    second = account.deliver("m", messages(2))

    assert all(r.ok for r in first + second)
    assert exchange.handler.oauth_logins == [ADDRESS, ADDRESS]
    assert entra.calls == 1


def test_a_token_about_to_expire_is_renewed_before_login(exchange, engine, messages, entra,
                                                         clock):
    account = engine(exchange)
    account.deliver("m", messages(1))

    clock.advance(entra.lifetime - EXPIRY_MARGIN + 1)
    results = account.deliver("m", messages(1))

    assert results[0].ok, results
    assert entra.calls == 2
    assert exchange.handler.refused_tokens == 0


def test_a_token_the_server_refuses_is_renewed_once(exchange, engine, messages, entra):
    account = engine(exchange)
    account.deliver("m", messages(1))
    entra.expire_all()  # ended early: the kept one looks fine to the client

    results = account.deliver("m", messages(2))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2
    assert exchange.handler.refused_tokens == 1
    assert entra.calls == 2
    assert exchange.connections == 2  # the retry went over the same connection


def test_a_revoked_refresh_token_stops_the_account_before_connecting(exchange, engine,
                                                                    messages, entra):
    entra.revoke(REFRESH_TOKEN)

    results = engine(exchange, login="delegated").deliver("m", messages(2))

    assert [r.outcome for r in results] == [Outcome.ACCOUNT_STOPPED] * 2
    assert "AADSTS70008" in results[0].text
    assert "signs in again to grant a new refresh token" in results[0].text
    assert exchange.connections == 0


@pytest.mark.parametrize(("change", "expected"), [
    ({"oauth2": {"client_secret": "not-the-secret"}},
     "copy the secret's Value (not its Secret ID)"),
    ({"oauth2": {"client_id": "00000000-0000-0000-0000-000000000000"}},
     "check oauth2.client_id (the Application (client) ID)"),
    ({"oauth2": {"tenant": "unknown.example"}}, "there is no tenant 'unknown.example'"),
])
def test_a_wrong_app_setting_stops_the_account(exchange, engine, messages, change, expected):
    results = engine(exchange, **change).deliver("m", messages(1))

    assert results[0].outcome is Outcome.ACCOUNT_STOPPED
    assert expected in results[0].text
    assert exchange.connections == 0


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_busy_identity_platform_is_tried_again_later(exchange, engine, messages, entra,
                                                       status):
    entra.answer_next(status, {"error": "temporarily_unavailable",
                               "error_description": "AADSTS90033: A transient error has "
                                                    "occurred. Please try again."})

    results = engine(exchange).deliver("m", messages(2))

    # No session without a token: the account pauses as a whole, the messages keep their tries.
    assert [r.outcome for r in results] == [Outcome.UNREACHABLE] * 2
    assert f"HTTP {status}" in results[0].text
    assert exchange.connections == 0


def test_an_unreachable_identity_platform_is_tried_again_later(exchange, engine, messages):
    host = f"https://127.0.0.1:{refused_port()}"

    results = engine(exchange, oauth2={"authority_host": host}).deliver("m", messages(1))

    assert results[0].outcome is Outcome.UNREACHABLE
    assert f"cannot reach the identity platform at {host}" in results[0].text
    assert "Connection refused" in results[0].text


def test_an_app_without_access_to_the_mailbox(exchange_server, engine, messages, entra):
    server = exchange_server()
    server.handler.app_mailboxes.clear()

    results = engine(server).deliver("m", messages(1))

    assert results[0].outcome is Outcome.ACCOUNT_STOPPED
    assert results[0].code == "535"
    assert "Add-MailboxPermission" in results[0].text
    assert entra.calls == 2  # the refused token was renewed once, and refused again
    assert server.received == []
