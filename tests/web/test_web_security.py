"""The admin page over real HTTP: nothing without a login, nothing changed without the
CSRF token, no secret in any page, and the safe defaults."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from loopback.ports import refused_port
from loopback.web import csrf_of, log_in, serving
from starlette.routing import Route

from postroom.errors import ConfigError
from postroom.web import create_app
from postroom.web.auth import logged_in

SECRET = "s3cr3t-Never-Shown-7731"


def routes(app) -> list[tuple[str, str]]:
    """Every (method, path) of the app, path parameters filled in."""
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            path = route.path.replace("{account}", "office").replace("{message_id}", "m-1")
            found += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return found


@pytest.fixture
def app(engine):
    return create_app(engine)


def test_every_route_but_the_login_form_refuses_a_visitor_without_a_session(app, store_view):
    message_id, = store_view.send("texts", to="07700 900123", text="hello")
    checked = []
    with serving(app) as url:
        for method, path in routes(app):
            if path == "/login":
                continue
            answer = requests.request(method, url + path, data={"ids": message_id},
                                      allow_redirects=False, timeout=10)
            if method == "GET":
                assert answer.status_code == 303, (method, path)
                assert answer.headers["location"].startswith("/login?next=")
            else:
                assert answer.status_code == 401, (method, path)
            assert "<main" not in answer.text
            checked.append(path)
    assert {"/accounts", "/queue", "/log", "/estimate", "/templates", "/queue/cancel",
            "/log/clear", "/accounts/office/test", "/messages/m-1"} <= set(checked)
    assert store_view.store.find(message_id).state == "queued"


def test_a_forged_or_foreign_session_cookie_is_refused(app, engine, password):
    with serving(app) as url:
        session = log_in(url, password)
        assert session.get(f"{url}/queue", timeout=10).status_code == 200
        cookie = session.cookies["postroom_session"]
        forged = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
        answer = requests.get(f"{url}/queue", cookies={"postroom_session": forged},
                              allow_redirects=False, timeout=10)
        assert answer.status_code == 303
    # A new password signs with a new key: every earlier session is over.
    with serving(create_app(engine, password="another-password")) as url:
        answer = requests.get(f"{url}/queue", cookies={"postroom_session": cookie},
                              allow_redirects=False, timeout=10)
        assert answer.status_code == 303


def test_a_session_ends_after_its_minutes():
    start = 1_000_000.0
    scope = {"session": {"user": "Ann", "since": start}}

    assert logged_in(scope, 30, start + 29 * 60)
    assert not logged_in(scope, 30, start + 30 * 60)
    assert not logged_in(scope, 30, start - 1)  # from the future: forged
    assert not logged_in({"session": {"since": start}}, 30, start)


def test_a_post_without_the_csrf_token_changes_nothing(app, store_view, password):
    queued = store_view.send("texts", to="07700 900123", text="hello")
    with serving(app) as url:
        session = log_in(url, password)
        token = csrf_of(session.get(f"{url}/queue", timeout=10).text)
        posts = [path for method, path in routes(app) if method == "POST"]
        assert "/queue/cancel" in posts and "/log/clear" in posts
        for path in posts:
            for forged in ({}, {"csrf": "not-the-token"}, {"csrf": token[:-1]}):
                answer = session.post(url + path, data={**forged, "ids": queued[0],
                                                        "account": "texts", "before": "0d",
                                                        "target": "x@example.org"},
                                      allow_redirects=False, timeout=10)
                assert answer.status_code == 403, (path, forged)
                assert "security token" in answer.text
        # Still logged in, and nothing changed.
        assert session.get(f"{url}/queue", allow_redirects=False, timeout=10).status_code == 200
    assert store_view.store.find(queued[0]).state == "queued"


def test_the_login_form_itself_needs_its_token(site, password):
    answer = requests.post(f"{site}/login", data={"name": "Ann", "password": password},
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 403


def test_a_wrong_password_or_no_name_logs_nobody_in(site, password):
    session = requests.Session()
    token = csrf_of(session.get(f"{site}/login", timeout=10).text)
    for name, guess in (("Ann", "guess"), ("Ann", password[:-1]), ("", password)):
        answer = session.post(f"{site}/login", data={"csrf": token, "name": name,
                                                     "password": guess},
                              allow_redirects=False, timeout=10)
        assert answer.status_code == 401
        assert password not in answer.text
    assert session.get(f"{site}/accounts", allow_redirects=False, timeout=10).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "queue"])
def test_after_logging_in_only_a_page_of_this_app_follows(site, target, password):
    session = requests.Session()
    token = csrf_of(session.get(f"{site}/login", timeout=10).text)
    answer = session.post(f"{site}/login", data={"csrf": token, "name": "Ann",
                                                 "password": password, "next": target},
                          allow_redirects=False, timeout=10)
    assert answer.headers["location"] == "/"


def test_pages_forbid_framing_and_foreign_scripts_and_the_cookie_is_http_only(site):
    session = requests.Session()
    login = session.get(f"{site}/login", timeout=10)
    policy = login.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["x-content-type-options"] == "nosniff"
    cookie = login.headers["set-cookie"]
    assert "postroom_session=" in cookie and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()


def test_secure_cookies_are_sent_over_https_only(engine):
    with serving(create_app(engine, secure_cookies=True)) as url:
        cookie = requests.get(f"{url}/login", timeout=10).headers["set-cookie"]
    assert "; secure" in cookie.lower()


def test_there_is_no_page_without_a_password(make_engine, site_config):
    del site_config["web"]

    with pytest.raises(ConfigError, match=r"web\.password: required"):
        create_app(make_engine(site_config))


def every_provider_with_secrets(site_config: dict, unreachable: str, port: int) -> dict:
    """An account of every installed provider, the secret in each of its secret settings,
    every server address a closed loopback port."""
    accounts = {
        "mail": {"provider": "smtp", "host": "127.0.0.1", "port": port, "username": "ann",
                 "password": SECRET, "sender_email": "a@example.org", "timeout": 2,
                 "pop3": {"password": SECRET, "port": port}},
        "gmail_oauth": {"provider": "gmail", "address": "a@example.org", "host": "127.0.0.1",
                        "port": port, "timeout": 2,
                        "oauth2": {"client_id": "cid", "client_secret": SECRET,
                                   "refresh_token": SECRET, "token_url": unreachable}},
        "gmail_app": {"provider": "gmail", "address": "a@example.org", "app_password": SECRET,
                      "host": "127.0.0.1", "port": port, "timeout": 2},
        "nexmo": {"provider": "nexmo", "api_key": "key", "api_secret": SECRET,
                  "signature_secret": SECRET, "base_url": unreachable, "sender": "Clinic",
                  "timeout": 2},
        "credit_token": {"provider": "sms_credit", "base_url": unreachable, "token_id": "id",
                         "token_secret": SECRET, "timeout": 2},
        "files": {"provider": "email_file", "directory": "outbox"},
        "credit_login": {"provider": "sms_credit", "base_url": unreachable, "username": "u",
                         "password": SECRET, "timeout": 2},
        "m365_app": {"provider": "microsoft365", "address": "a@example.org", "host": "127.0.0.1",
                     "port": port, "timeout": 2,
                     "oauth2": {"tenant": "t", "client_id": "cid", "client_secret": SECRET,
                                "authority_host": f"https://127.0.0.1:{port}"}},
        "m365_user": {"provider": "microsoft365", "address": "a@example.org",
                      "host": "127.0.0.1", "port": port, "timeout": 2,
                      "oauth2": {"tenant": "t", "client_id": "cid", "refresh_token": SECRET,
                                 "authority_host": f"https://127.0.0.1:{port}"}},
    }
    return {**site_config, "accounts": {**site_config["accounts"], **accounts}}


def secrets_of(value) -> list[str]:
    """Every secret value inside a config object, found by walking its fields."""
    import attrs

    from postroom.secrets import Secret
    if isinstance(value, Secret):
        return [value.reveal()]
    if attrs.has(type(value)):
        return [s for f in attrs.fields(type(value)) for s in secrets_of(getattr(value, f.name))]
    return []


def test_a_secret_in_every_secret_setting_never_appears_in_any_page(make_engine, site_config,
                                                                   password):
    port = refused_port()
    engine = make_engine(every_provider_with_secrets(site_config, f"http://127.0.0.1:{port}",
                                                     port))
    missing = set(engine.registry.providers()) - {
        a.provider for a in engine.config.accounts.values()}
    assert not missing, f"add accounts of {missing} to every_provider_with_secrets"
    for name, account in engine.config.accounts.items():
        if name not in site_config["accounts"] and account.provider != "email_file":
            assert set(secrets_of(account.config)) == {SECRET}, name
    message_id, = engine.send("office", to="ann@example.org", subject="Hi", text="Hello")
    engine.run_worker(once=True, accounts=["office"], wait=0)
    with serving(create_app(engine)) as url:
        session = log_in(url, password)
        pages = []
        for path in ("/accounts", "/queue", "/log", f"/messages/{message_id}",
                     "/estimate?account=mail&count=100", "/templates?template=reminder&"
                     "values=appointment%3D2026-03-03T09%3A30Z%0Anote%3Dx%0Aclinic%3DNorth",
                     "/templates/html?template=reminder&values=appointment%3D2026-03-03T09"
                     "%3A30Z%0Anote%3Dx"):
            pages.append(session.get(url + path, timeout=30))
        token = csrf_of(pages[0].text)
        for name in engine.config.accounts:
            pages.append(session.get(f"{url}/accounts/{name}/credits", timeout=30))
            pages.append(session.post(f"{url}/accounts/{name}/test", data={"csrf": token},
                                      headers={"HX-Request": "true"}, timeout=30))
            pages.append(session.post(f"{url}/accounts/{name}/test",
                                      data={"csrf": token, "target": "ann@example.org"},
                                      timeout=30))
        pages.append(session.get(f"{url}/log", timeout=10))
    assert all(page.status_code in (200, 400) for page in pages), \
        [(p.url, p.status_code) for p in pages if p.status_code not in (200, 400)]
    settings_page = pages[0].text
    assert settings_page.count("set, from the config file") >= 10  # the secrets, masked
    for answer in pages:
        assert SECRET not in answer.text, answer.url
        assert password not in answer.text, answer.url
    assert SECRET not in str(engine.log())


def test_postroom_web_listens_on_loopback_and_needs_a_password(tmp_path):
    config = tmp_path / "postroom.toml"
    config.write_text('[accounts.texts]\nprovider = "sms_file"\n')
    environment = {**os.environ, "POSTROOM_CONFIG": str(config)}
    command = [sys.executable, "-m", "postroom", "web", "--port", str(refused_port())]
    refused = subprocess.run(command, capture_output=True, text=True, env=environment,
                             timeout=60)
    assert refused.returncode == 2
    assert "web.password: required" in refused.stderr

    config.write_text(config.read_text() + '[web]\npassword = { env = "WEB_PW" }\n')
    port = refused_port()
    server = subprocess.Popen([*command[:-1], str(port)], env={**environment, "WEB_PW": "pw"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        deadline = time.monotonic() + 30
        while answer is None and time.monotonic() < deadline:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
            except requests.ConnectionError:
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 200
        assert "Log in to postroom" in answer.text
        listening = Path("/proc/net/tcp").read_text()
        local = [line.split()[1] for line in listening.splitlines()[1:]
                 if line.split()[3] == "0A"]  # LISTEN
        assert f"0100007F:{port:04X}" in local  # 127.0.0.1 only, not 0.0.0.0
        assert f"00000000:{port:04X}" not in local
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in err
    assert re.search(r"Traceback", out + err) is None
