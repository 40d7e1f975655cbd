"""Fixtures for the microsoft365 plugin's tests: the identity platform and Exchange on loopback.

Time is a ``FakeClock`` shared by the identity platform (when access tokens
expire) and the plugin's token cache (when it renews them), so a test moves
time forward instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from loopback.fixtures import FakeClock, ca, ca_file, server_tls  # noqa: F401
from loopback.microsoft365 import (
    ExchangeHandler,
    FakeEntra,
    running_exchange,
    running_identity_platform,
)
from loopback.smtp import LoopbackSmtp

from postroom import EmailMessage, Engine
from postroom_microsoft365 import TOKENS

# Distinctive values, so a leak shows up in any text.
ADDRESS = "reception@contoso.example"
TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "Qx8~loopback.Client-Secret_7Rt"
REFRESH_TOKEN = "0.AXEA-loopback-Refresh-Token-K2p"


@pytest.fixture
def clock(monkeypatch) -> Iterator[FakeClock]:
    """The test's clock, read by the token cache; the cache starts and ends empty."""
    fake = FakeClock()
    monkeypatch.setattr(TOKENS, "clock", fake)
    TOKENS.clear()
    yield fake
    TOKENS.clear()


@pytest.fixture
def entra(ca, clock) -> Iterator[FakeEntra]:
    """The identity platform: one tenant, one app, and ``REFRESH_TOKEN`` granted by ``ADDRESS``."""
    with running_identity_platform(ca, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                   grants={REFRESH_TOKEN: ADDRESS}, domains=(TENANT,),
                                   clock=clock) as fake:
        yield fake


@pytest.fixture
def exchange_server(server_tls, entra) -> Iterator[Callable[..., LoopbackSmtp]]:
    """Start Exchange Online on loopback: ``exchange_server(faults=[...])``.

    STARTTLS required; the app's service principal may use ``ADDRESS``.
    """
    with ExitStack() as stack:
        def start(**options) -> LoopbackSmtp:
            server = stack.enter_context(running_exchange(identity=entra,
                                                          tls_context=server_tls, **options))
            handler: ExchangeHandler = server.handler
            handler.grant_mailbox(ADDRESS)
            return server
        yield start


@pytest.fixture
def exchange(exchange_server) -> LoopbackSmtp:
    """A running Exchange Online on loopback (as smtp.office365.com:587)."""
    return exchange_server()


@pytest.fixture
def account(ca_file, entra) -> Callable[..., dict]:
    """Settings of a microsoft365 account aimed at loopback: ``account(server, login="app")``.

    ``login`` is ``"app"`` (client credentials) or ``"delegated"`` (the
    refresh token, from a confidential client); ``oauth2`` overrides the
    app's settings (``None`` drops one); more keywords override settings.
    """
    def make(server: LoopbackSmtp | None = None, login: str = "app",
             oauth2: dict | None = None, **settings) -> dict:
        app = {"tenant": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
               "authority_host": entra.url}
        if login == "delegated":
            app["refresh_token"] = REFRESH_TOKEN
        app.update(oauth2 or {})
        account = {"provider": "microsoft365", "address": ADDRESS, "host": "127.0.0.1",
                   "tls_ca_file": str(ca_file), "timeout": 5,
                   "oauth2": {k: v for k, v in app.items() if v is not None}}
        if server is not None:
            account["port"] = server.port
        account.update(settings)
        return {key: value for key, value in account.items() if value is not None}
    return make


@pytest.fixture
def engine(tmp_path, account) -> Callable[..., Engine]:
    """An engine with one microsoft365 account, ``m``: ``engine(server, **settings)``."""
    def make(server: LoopbackSmtp | None = None, **settings) -> Engine:
        return Engine.from_dict({"accounts": {"m": account(server, **settings)}},
                                base_dir=tmp_path, environ={}, strict=True)
    return make


@pytest.fixture
def messages() -> Callable[..., list[EmailMessage]]:
    """``messages(n)``: n distinct small emails to bob@example.org."""
    def make(count: int, **fields) -> list[EmailMessage]:
        fields.setdefault("to", "bob@example.org")
        return [EmailMessage(subject=f"message {i}", text=f"body {i}", **fields)
                for i in range(count)]
    return make
