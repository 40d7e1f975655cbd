"""Fixtures for the gmail plugin's tests: a token endpoint, Gmail on loopback, accounts on them.

Time is a ``FakeClock`` shared by the token endpoint (when access tokens
expire) and the plugin's token cache (when it renews them), so a test moves
time forward instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from loopback.fixtures import FakeClock, ca, ca_file, server_tls  # noqa: F401
from loopback.gmail import FakeGoogleTokens, running_gmail, running_token_endpoint
from loopback.smtp import LoopbackSmtp

from postroom import EmailMessage, Engine
from postroom_gmail import TOKENS

# Distinctive values, so a leak shows up in any text.
ADDRESS = "ann.lee@gmail.com"
APP_PASSWORD = "qzvxkwhtjmbrplfd"  # Google's app passwords are 16 letters
GOOGLE_PASSWORD = "Anns-Own-Google-Password-5"
CLIENT_ID = "1234-loopback.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-loopback-Client-Secret-7"
REFRESH_TOKEN = "1//loopback-Refresh-Token-Q9x"


@pytest.fixture
def clock(monkeypatch) -> Iterator[FakeClock]:
    """The test's clock, read by the token cache; the cache starts and ends empty."""
    fake = FakeClock()
    monkeypatch.setattr(TOKENS, "clock", fake)
    TOKENS.clear()
    yield fake
    TOKENS.clear()


@pytest.fixture
def tokens(ca, clock) -> Iterator[FakeGoogleTokens]:
    """Google's token endpoint: one OAuth client, and ``REFRESH_TOKEN`` granted by ``ADDRESS``."""
    with running_token_endpoint(ca, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                grants={REFRESH_TOKEN: ADDRESS}, clock=clock) as fake:
        yield fake


@pytest.fixture
def gmail_server(server_tls, tokens) -> Iterator[Callable[..., LoopbackSmtp]]:
    """Start Gmail on loopback: ``gmail_server(security="starttls", faults=[...])``.

    Implicit TLS unless told otherwise; XOAUTH2 checks tokens with ``tokens``,
    ``ADDRESS`` logs in with ``APP_PASSWORD`` and is refused its ``GOOGLE_PASSWORD``.
    """
    with ExitStack() as stack:
        def start(**options) -> LoopbackSmtp:
            options.setdefault("security", "ssl")
            options.setdefault("users", {ADDRESS: APP_PASSWORD})
            options.setdefault("account_passwords", {ADDRESS: GOOGLE_PASSWORD})
            return stack.enter_context(running_gmail(tokens=tokens, tls_context=server_tls,
                                                     **options))
        yield start


@pytest.fixture
def gmail(gmail_server) -> LoopbackSmtp:
    """A running Gmail on loopback with implicit TLS (as smtp.gmail.com:465)."""
    return gmail_server()


@pytest.fixture
def account(tmp_path, ca_file, tokens) -> Callable[..., dict]:
    """Settings of a gmail account aimed at loopback: ``account(server, login="oauth2")``.

    ``login`` is ``"oauth2"`` (the token endpoint) or ``"app_password"``; more
    keywords override settings, ``None`` drops one.
    """
    def make(server: LoopbackSmtp | None = None, login: str = "oauth2", **settings) -> dict:
        account = {"provider": "gmail", "address": ADDRESS, "host": "127.0.0.1",
                   "tls_ca_file": str(ca_file), "timeout": 5}
        if login == "oauth2":
            account["oauth2"] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                 "refresh_token": REFRESH_TOKEN, "token_url": tokens.url}
        else:
            account["app_password"] = APP_PASSWORD
        if server is not None:
            account["port"] = server.port
        account.update(settings)
        return {key: value for key, value in account.items() if value is not None}
    return make


@pytest.fixture
def engine(tmp_path, account) -> Callable[..., Engine]:
    """An engine with one gmail account, ``g``: ``engine(server, **settings)`` (as ``account``)."""
    def make(server: LoopbackSmtp | None = None, **settings) -> Engine:
        return Engine.from_dict({"accounts": {"g": account(server, **settings)}},
                                base_dir=tmp_path, environ={})
    return make


@pytest.fixture
def messages() -> Callable[..., list[EmailMessage]]:
    """``messages(n)``: n distinct small emails to bob@example.org."""
    def make(count: int, **fields) -> list[EmailMessage]:
        fields.setdefault("to", "bob@example.org")
        return [EmailMessage(subject=f"message {i}", text=f"body {i}", **fields)
                for i in range(count)]
    return make
