"""The live test (`postroom test`): Exchange's and Entra's refusals, provoked for real."""

from __future__ import annotations

import pytest
import trustme
from loopback.microsoft365 import running_identity_platform

ADDRESS = "reception@contoso.example"
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "Qx8~loopback.Client-Secret_7Rt"


@pytest.mark.parametrize("login", ["app", "delegated"])
def test_an_account_passes_and_mails_only_the_target_given(exchange, engine, login):
    account = engine(exchange, login=login)
    diagnosis = account.test("m")
    assert diagnosis.ok, diagnosis
    assert exchange.received == []  # without a target the test sends nothing

    diagnosis = account.test("m", ADDRESS)

    assert diagnosis.ok, diagnosis
    assert diagnosis.facts["login"] == f"as {ADDRESS} (OAuth2)"
    assert diagnosis.facts["limits"] == ("30 messages a minute, 10000 a day (Exchange "
                                         "Online's), 500 recipients a message")
    assert diagnosis.facts["tls"].startswith("TLSv1.")
    assert [r.recipients for r in exchange.received] == [(ADDRESS,)]


def test_the_test_asks_for_a_new_token_even_with_one_kept(exchange, engine, messages, entra):
    account = engine(exchange)
    account.deliver("m", messages(1))

    account.test("m")

    assert entra.calls == 2


@pytest.mark.parametrize(("off", "category", "where"), [
    ("tenant", "smtp-auth-disabled-tenant", "Turn off SMTP AUTH protocol for your organization"),
    ({ADDRESS}, "smtp-auth-disabled-mailbox", "tick \"Authenticated SMTP\""),
])
def test_smtp_auth_turned_off(exchange, engine, off, category, where):
    exchange.handler.smtp_auth_off = off

    diagnosis = engine(exchange).test("m")

    assert (diagnosis.stage, diagnosis.category) == ("auth", category)
    assert "535 5.7.139" in diagnosis.detail
    assert where in diagnosis.hint


def test_a_mailbox_without_a_licence(exchange, engine):
    exchange.handler.unlicensed.add(ADDRESS)

    diagnosis = engine(exchange).test("m")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "mailbox-not-licensed")
    assert "assign a plan that includes Exchange Online" in diagnosis.hint


def test_an_app_exchange_does_not_know(exchange, engine):
    exchange.handler.app_mailboxes.clear()

    diagnosis = engine(exchange).test("m")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "token-refused")
    assert "535 5.7.3 Authentication unsuccessful" in diagnosis.detail
    assert f"New-ServicePrincipal -AppId {CLIENT_ID}" in diagnosis.hint


def test_a_refresh_token_granted_by_another_user(exchange, engine, entra):
    entra.grants = dict.fromkeys(entra.grants, "someone.else@contoso.example")

    diagnosis = engine(exchange, login="delegated").test("m")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "token-refused")
    assert f"granted by {ADDRESS}'s own user" in diagnosis.hint


@pytest.mark.parametrize(("setup", "category", "hint"), [
    ({"secret_expired": True}, "client-secret-expired", "create a new one"),
    ({"consented": False}, "app-not-consented", "\"Grant admin consent\""),
])
def test_the_app_registration_refused(exchange, engine, entra, setup, category, hint):
    for name, value in setup.items():
        setattr(entra, name, value)

    diagnosis = engine(exchange).test("m")

    assert (diagnosis.stage, diagnosis.category) == ("token", category)
    assert diagnosis.detail.startswith("the identity platform refused a token: HTTP ")
    assert "AADSTS" in diagnosis.detail and "Trace ID" not in diagnosis.detail
    assert hint in diagnosis.hint
    assert exchange.connections == 0


def test_a_wrong_client_secret(exchange, engine):
    diagnosis = engine(exchange, oauth2={"client_secret": "wrong"}).test("m")

    assert (diagnosis.stage, diagnosis.category) == ("token", "client-secret-invalid")
    assert "HTTP 401 invalid_client (AADSTS7000215: Invalid client secret" in diagnosis.detail


def test_an_unknown_tenant(exchange, engine):
    diagnosis = engine(exchange, oauth2={"tenant": "unknown.example"}).test("m")

    assert (diagnosis.stage, diagnosis.category) == ("token", "tenant-not-found")
    assert "AADSTS90002" in diagnosis.detail


def test_an_identity_platform_with_a_certificate_not_trusted(exchange, engine, clock):
    with running_identity_platform(trustme.CA(), client_id=CLIENT_ID,
                                   client_secret=CLIENT_SECRET, clock=clock) as stranger:
        diagnosis = engine(exchange, oauth2={"authority_host": stranger.url}).test("m")

    assert (diagnosis.stage, diagnosis.category) == ("token", "token-endpoint-tls")
    assert "is not trusted" in diagnosis.detail
    assert "set tls_ca_file" in diagnosis.hint
    assert (stranger.discoveries, stranger.calls) == (0, 0)


def test_an_authority_that_is_not_the_identity_platform(exchange, engine, entra):
    diagnosis = engine(exchange, oauth2={"authority_host": f"{entra.url}/elsewhere"}).test("m")

    assert (diagnosis.stage, diagnosis.category) == ("config", "invalid-config")
    assert diagnosis.detail.startswith("oauth2.authority_host:")
