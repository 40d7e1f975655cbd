"""Fixtures for the smtp plugin's tests: a test CA, loopback servers and accounts on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from loopback.fixtures import ca, ca_file, server_tls  # noqa: F401
from loopback.pop3 import LoopbackPop3, running_pop3
from loopback.postfix import PrivatePostfix, postfix_fixture
from loopback.smtp import LoopbackSmtp, running_smtp

from postroom import EmailMessage, Engine

USER = "ann"
PASSWORD = "hunter2-Very-Secret-9"  # distinctive, so a leak shows up in any text
SENDER = "ann@example.org"


@pytest.fixture
def credentials() -> tuple[str, str]:
    """The user name and password the loopback servers accept."""
    return USER, PASSWORD


@pytest.fixture(params=[False, True], ids=["lockstep", "pipelining"])
def smtp_server(server_tls, request) -> Iterator[Callable[..., LoopbackSmtp]]:
    """Start loopback SMTP servers: ``smtp_server(security="ssl", faults=[...])``.

    TLS uses the test CA's certificate and AUTH accepts ``credentials``
    unless the test says otherwise; every server stops after the test. Each
    test runs twice: with servers that offer PIPELINING and with servers that
    do not, since the plugin sends differently to each.
    """
    with ExitStack() as stack:
        def start(**options) -> LoopbackSmtp:
            options.setdefault("users", {USER: PASSWORD})
            options.setdefault("pipelining", request.param)
            if options.get("security", "none") != "none":
                options.setdefault("tls_context", server_tls)
            return stack.enter_context(running_smtp(**options))
        yield start


@pytest.fixture
def starttls_server(smtp_server) -> LoopbackSmtp:
    """The usual submission server: STARTTLS required before MAIL and AUTH."""
    return smtp_server(security="starttls", require_starttls=True)


@pytest.fixture
def pop3_server(server_tls) -> Iterator[Callable[..., LoopbackPop3]]:
    """Start loopback POP3 servers accepting ``credentials``: ``pop3_server(security="ssl")``."""
    with ExitStack() as stack:
        def start(**options) -> LoopbackPop3:
            options.setdefault("users", {USER: PASSWORD})
            if options.get("security", "none") != "none":
                options.setdefault("tls_context", server_tls)
            return stack.enter_context(running_pop3(**options))
        yield start


@pytest.fixture
def office(tmp_path, ca_file) -> Callable[..., Engine]:
    """An engine with one smtp account, ``office``: ``office(server, security="ssl")``.

    Defaults: the server's address, STARTTLS trusting the test CA, the test
    login, sender ann@example.org and a 5 s timeout. ``None`` drops a default.
    """
    def make(server: LoopbackSmtp | None = None, **settings) -> Engine:
        account = {"provider": "smtp", "host": "127.0.0.1", "security": "starttls",
                   "username": USER, "password": PASSWORD, "sender_email": SENDER,
                   "tls_ca_file": str(ca_file), "timeout": 5}
        if server is not None:
            account.update(host=server.host, port=server.port)
        account.update(settings)
        account = {key: value for key, value in account.items() if value is not None}
        return Engine.from_dict({"accounts": {"office": account}}, base_dir=tmp_path, environ={})
    return make


@pytest.fixture
def messages() -> Callable[[int], list[EmailMessage]]:
    """``messages(n)``: n distinct small emails to bob@example.org."""
    def make(count: int, **fields) -> list[EmailMessage]:
        fields.setdefault("to", "bob@example.org")
        return [EmailMessage(subject=f"message {i}", text=f"body {i}", **fields)
                for i in range(count)]
    return make


@pytest.fixture(scope="session")
def postfix() -> Iterator[PrivatePostfix]:
    """A private Postfix with Dovecot logins on loopback, for the whole session.

    Skipped, with how to install it, where Postfix and Dovecot are missing;
    a failure instead when $CI is set.
    """
    yield from postfix_fixture()


@pytest.fixture
def postfix_office(postfix, tmp_path) -> Callable[..., Engine]:
    """An engine whose ``office`` account sends through the private Postfix.

    ``postfix_office("submission")`` (the default): STARTTLS on the submission
    port, logged in as office@example.com, sending as that address, trusting
    the Postfix's CA. Settings override those; ``None`` drops one.
    """
    def make(port: str = "submission", **settings) -> Engine:
        user = "office@example.com"
        security = {"submission": "starttls", "smtps": "ssl"}.get(port, "none")
        account = {"provider": "smtp", "host": "localhost", "port": postfix.port(port),
                   "security": security, "username": user, "password": postfix.users[user],
                   "sender_email": user, "tls_ca_file": str(postfix.ca_file), "timeout": 10,
                   "local_hostname": "client.example.org", **settings}
        account = {key: value for key, value in account.items() if value is not None}
        return Engine.from_dict({"accounts": {"office": account}}, base_dir=tmp_path, environ={})
    return make
