"""Fixtures for the admin page: a site on real servers, HTTP sessions and a real browser.

The site's config has three accounts: ``office`` (SMTP on a loopback aiosmtpd
with STARTTLS and the right login), ``helpdesk`` (the same server, the wrong
password) and ``texts`` (the built-in SMS file provider), and the test
templates. ``site`` serves the admin page with uvicorn on loopback.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from loopback.certificates import server_context, write_ca_file
from loopback.smtp import Answer, ForAddress, LoopbackSmtp, running_smtp
from loopback.web import log_in, serving

from postroom import Engine
from postroom.web import create_app

PASSWORD = "open-sesame-Web-4411"  # the admin page's; distinctive, so a leak would show
SMTP_USER = "desk"
SMTP_PASSWORD = "right-Smtp-Password-5820"
WRONG_PASSWORD = "wrong-Smtp-Password-0193"
UNKNOWN = "nobody@example.org"  # the SMTP server refuses this recipient for good
TEMPLATES = Path(__file__).parent.parent / "fixtures" / "templates"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def smtp(ca) -> Iterator[LoopbackSmtp]:
    rejection = Answer(f"550 5.1.1 <{UNKNOWN}>: Recipient address rejected: no such user")
    with running_smtp(security="starttls", tls_context=server_context(ca), require_starttls=True,
                      users={SMTP_USER: SMTP_PASSWORD},
                      faults=[ForAddress("RCPT", UNKNOWN, rejection)]) as server:
        yield server


def smtp_account(server: LoopbackSmtp, ca_file: Path, password: str, **more) -> dict:
    return {"provider": "smtp", "host": server.host, "port": server.port,
            "security": "starttls", "username": SMTP_USER, "password": password,
            "sender_email": "reception@riverside.example", "sender_name": "Riverside Clinic",
            "tls_ca_file": str(ca_file), "timeout": 5, **more}


@pytest.fixture
def site_config(tmp_path, smtp, ca) -> dict:
    """The config every web test starts from, as a dict shaped like postroom.toml."""
    ca_file = write_ca_file(ca, tmp_path / "ca.pem")
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    return {
        "region": "GB",
        "timezone": "Europe/London",
        "store": {"path": str(tmp_path / "postroom.db")},
        "templates": {"directory": str(templates), "timezone": "Europe/London"},
        "web": {"password": {"env": "POSTROOM_WEB_PASSWORD"}},
        "accounts": {
            "office": smtp_account(smtp, ca_file, SMTP_PASSWORD, schedule={
                "per_minute": 30, "daily_cap": 500,
                "windows": [{"days": "mon-fri", "start": "08:00", "end": "18:00"}]}),
            "helpdesk": smtp_account(smtp, ca_file, WRONG_PASSWORD, schedule={
                "per_minute": 1, "daily_cap": 500,
                "windows": [{"days": "mon-fri", "start": "09:00", "end": "17:00"}]}),
            "texts": {"provider": "sms_file", "path": str(tmp_path / "sms.jsonl"),
                      "sender": "Riverside", "price_per_segment": "0.04"},
        },
    }


@pytest.fixture
def make_engine(tmp_path, site_config) -> Callable[..., Engine]:
    """A new engine on the site's config (and store): ``make_engine()``."""
    made: list[Engine] = []

    def make(config: dict | None = None) -> Engine:
        engine = Engine.from_dict(config or site_config, base_dir=tmp_path,
                                  environ={"POSTROOM_WEB_PASSWORD": PASSWORD})
        made.append(engine)
        return engine
    yield make
    for engine in made:
        engine.close()


@pytest.fixture
def engine(make_engine) -> Engine:
    """The engine the admin page runs on."""
    return make_engine()


@pytest.fixture
def store_view(make_engine) -> Engine:
    """A second engine on the same store: what other processes see."""
    return make_engine()


@pytest.fixture
def site(engine) -> Iterator[str]:
    """The admin page served on loopback; yields its base URL."""
    with serving(create_app(engine)) as url:
        yield url


@pytest.fixture
def password() -> str:
    """The admin page's password."""
    return PASSWORD


@pytest.fixture
def admin(site) -> requests.Session:
    """A client logged in to ``site`` as Ann."""
    return log_in(site, PASSWORD)


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium under Playwright; never a downloaded browser."""
    if not os.access(CHROMIUM, os.X_OK):
        how = f"{CHROMIUM} is missing: apt-get install chromium (make test does, as root)"
        if os.environ.get("CI"):
            pytest.fail(how)
        pytest.skip(how)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser tab (its own cookies) at laptop size; console errors are kept
    in ``page.errors`` so a test can assert none happened (a blocked script, say)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


@pytest.fixture
def browser_log_in() -> Callable[..., None]:
    """Log a browser tab in through the login form: ``browser_log_in(page, url)``."""
    def log_in_with(tab, url: str, name: str = "Ann") -> None:
        tab.goto(f"{url}/")
        tab.get_by_label("Your name").fill(name)
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        tab.wait_for_url(re.compile(r"/accounts$"))
    return log_in_with
