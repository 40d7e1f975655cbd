"""The live test (`postroom test`): Gmail's own refusals, each provoked for real, with a hint."""

from __future__ import annotations

import pytest
import trustme
from loopback.gmail import WEB_SIGN_IN_REQUIRED, DailyQuota, running_token_endpoint
from loopback.smtp import running_smtp

ADDRESS = "ann.lee@gmail.com"
GOOGLE_PASSWORD = "Anns-Own-Google-Password-5"
CLIENT_ID = "1234-loopback.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-loopback-Client-Secret-7"
REFRESH_TOKEN = "1//loopback-Refresh-Token-Q9x"


def test_an_oauth2_account_passes_and_sends_nothing(gmail, engine, tokens):
    diagnosis = engine(gmail).test("g")

    assert diagnosis.ok, diagnosis
    assert diagnosis.facts["login"] == f"as {ADDRESS} (OAuth2)"
    assert diagnosis.facts["login method"] == "XOAUTH2"
    assert diagnosis.facts["account type"] == "personal"
    assert diagnosis.facts["daily cap"] == "500 messages (Gmail's for a personal account)"
    assert diagnosis.facts["tls"].startswith("TLSv1.")
    assert gmail.received == []
    assert gmail.handler.oauth_logins == [ADDRESS]


def test_with_a_test_address_an_oauth2_account_mails_it(gmail, engine, tokens):
    diagnosis = engine(gmail).test("g", ADDRESS)

    assert diagnosis.ok, diagnosis
    [received] = gmail.received
    assert received.recipients == (ADDRESS,)


def test_the_test_asks_for_a_new_token_even_with_one_kept(gmail, engine, messages, tokens):
    # A revoked refresh token is what "Test" must find, even while a token is kept.
    account = engine(gmail)
    account.deliver("g", messages(1))

    account.test("g")

    assert tokens.calls == 2


def test_an_app_password_account_passes_on_the_starttls_port(gmail_server, engine):
    server = gmail_server(security="starttls", require_starttls=True)

    diagnosis = engine(server, login="app_password", security="starttls").test("g", "bo@x.org")

    assert diagnosis.ok, diagnosis
    assert diagnosis.facts["security"] == "starttls"
    assert server.logins == [ADDRESS]
    assert [r.recipients for r in server.received] == [("bo@x.org",)]


def test_the_accounts_own_password_wants_an_app_password(gmail, engine):
    diagnosis = engine(gmail, login="app_password", app_password=GOOGLE_PASSWORD).test("g")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "auth-too-weak")
    assert "534 5.7.9 Application-specific password required" in diagnosis.detail
    assert diagnosis.hint.startswith("Gmail wants an app password, not the account's own "
                                     f"password: turn on 2-Step Verification for {ADDRESS}")
    assert diagnosis.hint.endswith("and set app_password to it")


def test_a_wrong_app_password(gmail, engine):
    diagnosis = engine(gmail, login="app_password", app_password="abcdabcdabcdabcd").test("g")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "auth-failed")
    # One method tried, and named: LOGIN after a refused PLAIN would count twice at Google.
    assert "with PLAIN failed: 535 5.7.8 Username and Password not accepted" in diagnosis.detail
    assert diagnosis.hint.startswith(f"Gmail refused {ADDRESS} with this app password")
    assert "changing the Google password revokes every app password" in diagnosis.hint


def test_a_sign_in_google_holds_back(gmail_server, engine):
    server = gmail_server(rejection=WEB_SIGN_IN_REQUIRED)

    diagnosis = engine(server, login="app_password", app_password="abcdabcdabcdabcd").test("g")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "auth-too-weak")
    assert "534 5.7.14" in diagnosis.detail
    assert diagnosis.hint.startswith(f"Google wants someone to sign in to {ADDRESS} in a web "
                                     "browser")


def test_a_revoked_refresh_token(gmail, engine, tokens):
    tokens.revoke(REFRESH_TOKEN)

    diagnosis = engine(gmail).test("g")

    assert (diagnosis.stage, diagnosis.category) == ("token", "refresh-token-invalid")
    assert diagnosis.detail == ("the token endpoint refused the refresh token: HTTP 400 "
                                "invalid_grant (Token has been expired or revoked.)")
    assert diagnosis.hint.startswith("the refresh token was revoked or has expired")
    assert "put it in oauth2.refresh_token" in diagnosis.hint
    assert gmail.connections == 0


@pytest.mark.parametrize("command", ["MAIL", "DATA"])
def test_the_daily_quota_used_up(gmail_server, engine, command):
    server = gmail_server(faults=[DailyQuota(0, command)])

    # A refusal at DATA shows only when a test message is sent.
    diagnosis = engine(server).test("g", ADDRESS)

    assert (diagnosis.stage, diagnosis.category) == ("send", "quota-exceeded")
    assert "550 5.4.5 Daily user sending limit exceeded" in diagnosis.detail
    assert diagnosis.hint.startswith("the account has sent Gmail's daily quota (about 500 "
                                     "messages in 24 hours for a personal account)")
    assert "postroom pauses it for 24 hours" in diagnosis.hint


def test_a_workspace_quota_names_its_own_limit(gmail_server, engine, tokens):
    tokens.grants[REFRESH_TOKEN] = "ann@clinic.example"
    server = gmail_server(faults=[DailyQuota(0)])

    diagnosis = engine(server, address="ann@clinic.example").test("g")

    assert diagnosis.category == "quota-exceeded"
    assert "about 2000 messages in 24 hours for a workspace account" in diagnosis.hint


def test_a_token_endpoint_with_a_certificate_not_trusted(gmail, engine, clock):
    with running_token_endpoint(trustme.CA(), client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                grants={REFRESH_TOKEN: ADDRESS}, clock=clock) as stranger:
        diagnosis = engine(gmail, oauth2={
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN, "token_url": stranger.url}).test("g")

    assert (diagnosis.stage, diagnosis.category) == ("token", "token-endpoint-tls")
    assert diagnosis.detail.endswith("failed: certificate verify failed")
    assert "set tls_ca_file" in diagnosis.hint
    assert stranger.calls == 0


def test_a_token_url_that_is_not_a_token_endpoint(gmail, engine, tokens):
    wrong = tokens.url.replace("/token", "/oauth/authorize")

    diagnosis = engine(gmail, oauth2={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                      "refresh_token": REFRESH_TOKEN,
                                      "token_url": wrong}).test("g")

    assert (diagnosis.stage, diagnosis.category) == ("token", "token-endpoint-failed")
    assert diagnosis.detail == f"{wrong} did not answer as a token endpoint does: HTTP 404"
    assert "check oauth2.token_url" in diagnosis.hint


def test_an_answer_without_a_token(gmail, engine, tokens):
    tokens.answer_next(200, {"token_type": "Bearer"})

    diagnosis = engine(gmail).test("g")

    assert (diagnosis.stage, diagnosis.category) == ("token", "token-endpoint-failed")


def test_a_config_error_is_reported_before_going_online(gmail, engine):
    diagnosis = engine(gmail, login="app_password", app_password=None).test("g")

    assert (diagnosis.stage, diagnosis.category) == ("config", "invalid-config")
    assert gmail.connections == 0


def test_a_server_without_xoauth2_is_not_gmail(engine, server_tls, tokens):
    with running_smtp(security="ssl", tls_context=server_tls, users={ADDRESS: "pw"}) as other:
        diagnosis = engine(other).test("g")

    assert (diagnosis.stage, diagnosis.category) == ("auth", "auth-no-common-method")
    assert "no XOAUTH2 login, only LOGIN PLAIN" in diagnosis.detail
    assert other.logins == []
