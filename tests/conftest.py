"""Fixtures for core tests: the echo test provider, fake installed distributions, a CA."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import trustme

from postroom.plugins import PluginRegistry

# pytester runs the test mode for apps (postroom's pytest plugin) in app projects of its own.
pytest_plugins = ["pytester"]

ECHO_PROJECT = Path(__file__).parent / "fixtures" / "postroom-echo"
ACME_PROJECT = Path(__file__).parent / "fixtures" / "postroom-acme"

pytest_plugins = ["pytester"]

# The test providers' packages are imported by path, as a plugin under test would be.
for project in (ECHO_PROJECT, ACME_PROJECT):
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))


@pytest.fixture
def echo():
    import postroom_echo

    postroom_echo.SENT.clear()
    return postroom_echo


@pytest.fixture
def registry(echo) -> PluginRegistry:
    """Built-ins plus the echo plugin registered in code; no entry points."""
    reg = PluginRegistry(entry_points=False, environ={})
    reg.register(echo, ["echo"], distribution="postroom-echo", version="1.0")
    return reg


@pytest.fixture
def echo_settings() -> dict:
    return {"provider": "echo", "host": "echo.example.org", "sender": "desk@example.org",
            "api_secret": {"env": "ECHO_SECRET"}}


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Make fake installed distributions whose entry points importlib.metadata finds.

    ``installed("acme-sms", {"acme": "acme_module"}, modules={"acme_module": "code"})``
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(dist: str, entry_points: dict[str, str], modules: dict[str, str] | None = None,
                version: str = "1.0") -> None:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[postroom]\n{lines}")
        for module, code in (modules or {}).items():
            (site / f"{module}.py").write_text(code)

    install.site = site
    return install


#: The echo account worker processes send through, under [accounts.desk].
ECHO_ACCOUNT = """
[accounts.desk]
provider = "echo"
host = "echo.example.org"
sender = "desk@example.org"
"""


@pytest.fixture
def echo_processes(installed, tmp_path):
    """For tests that run ``postroom`` processes with the echo provider installed:
    ``config, env = echo_processes(settings, account="api_secret = ...")`` writes
    postroom.toml (the outbox in outbox.db, ``settings`` and the echo account
    ``desk``, with ``account`` added) and gives the environment the processes
    find the plugin with."""
    installed("postroom-echo", {"echo": "postroom_echo"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed.site), str(ECHO_PROJECT)])}

    def write(settings: str, account: str = 'api_secret = "x"') -> tuple[Path, dict]:
        config = tmp_path / "postroom.toml"
        config.write_text(f'[store]\npath = "outbox.db"\n{settings}\n{ECHO_ACCOUNT}{account}\n')
        return config, env

    return write


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority for the loopback TLS servers."""
    return trustme.CA()


MAILBOX_USER, MAILBOX_PASSWORD = "desk", "Dovecot-Mailbox-Pass-4"


@pytest.fixture
def dovecot(ca):
    """A private Dovecot (IMAP and POP3, certificate from ``ca``) with one mailbox,
    ``MAILBOX_USER``'s."""
    from loopback.dovecot import running_dovecot

    with running_dovecot(ca, {MAILBOX_USER: MAILBOX_PASSWORD}) as server:
        yield server
