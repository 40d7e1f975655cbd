"""The test mode for apps: postroom's pytest plugin, run in app projects by pytester.

Each app project has a real postroom.toml (an SMTP account aimed at a live
loopback server, its password in an environment variable the test run does
not set, a real outbox path) and app code that builds its engine at import.
The plugin must keep every message off that server and that outbox.
"""

from __future__ import annotations

import textwrap

import pytest
from loopback.smtp import running_smtp

APP = '''
from postroom import Engine

engine = Engine.from_file("postroom.toml")      # made at import, as apps do


def book(email, phone):
    engine.send("office", to=email, subject="Booked", text="See you on Tuesday.")
    engine.send("texts", to=phone, text="Booked for Tuesday.")


def remind(email):
    engine.send("office", template="reminder", context={"clinic": "North Street"},
                recipients=[{"to": email, "name": "Ann"}])
'''

TESTS = '''
import app


def test_booking_is_captured(postroom_sent):
    app.book("ann@example.org", "07700 900123")
    [email] = postroom_sent(account="office", to="ann@example.org", subject="Booked")
    assert email.message.text == "See you on Tuesday."
    [sms] = postroom_sent(channel="sms", to="+447700900123", contains="Tuesday")
    assert sms.account == "texts"


def test_each_test_starts_empty(postroom_outbox):
    assert postroom_outbox.queued == []


def test_the_worker_delivers_to_the_capturing_providers(postroom_sent):
    app.book("bo@example.org", "07700 900124")
    report = app.engine.run_worker(once=True, wait=0)
    assert report.sent == 2
    postroom_sent(to="bo@example.org", delivered=True, count=1)
    assert app.engine.test("office").ok


def test_rendered_templates(postroom_rendered, postroom_sent):
    app.remind("cy@example.org")
    [rendered] = postroom_rendered("reminder", to="cy@example.org")
    assert "North Street" in rendered.text
    postroom_sent(subject=rendered.subject, count=1)


def test_the_engine_fixture_uses_the_apps_config(postroom_engine, postroom_sent):
    postroom_engine.send("office", to="dee@example.org", subject="Hi", text=".")
    postroom_sent(account="office", to="dee@example.org", count=1)


def test_a_missing_message_fails_with_what_was_sent(postroom_sent):
    app.book("ann@example.org", "07700 900123")
    postroom_sent(to="nobody@example.org")
'''


@pytest.fixture
def app_project(pytester, tmp_path):
    """An app with a real outbox path and an SMTP account on a live loopback server."""
    templates = pytester.path / "templates" / "reminder"
    templates.mkdir(parents=True)
    (templates / "subject.txt").write_text("Reminder from {{ clinic }}")
    (templates / "text.txt").write_text("Hello {{ recipient.name }}, {{ clinic }} awaits.")
    with running_smtp() as server:
        pytester.makefile(".toml", postroom=textwrap.dedent(f"""
            region = "GB"
            [store]
            path = "var/real-outbox.db"
            [templates]
            directory = "templates"
            [accounts.office]
            provider = "smtp"
            host = "{server.host}"
            port = {server.port}
            security = "none"
            username = "desk"
            password = {{ env = "OFFICE_PASSWORD_NOT_SET_IN_TESTS" }}
            sender_email = "desk@clinic.example"
            [accounts.texts]
            provider = "sms_file"
            path = "var/real-texts.jsonl"
        """))
        pytester.makepyfile(app=APP, test_app=TESTS)
        yield pytester, server


def test_an_apps_tests_capture_and_never_touch_its_outbox(app_project):
    pytester, server = app_project
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines([
        "*expected at least one message sent with to='nobody@example.org', found 0; "
        "captured in this test:*",
        "*office (email) to ann@example.org: 'Booked'*",
        "*texts (sms) to +447700900123: 'Booked for Tuesday.'*",
    ])
    assert server.connections == 0
    assert not (pytester.path / "var").exists()


def test_capture_can_be_turned_off_for_the_run_but_the_fixtures_still_capture(app_project):
    pytester, server = app_project
    pytester.makeini("[pytest]\npostroom_capture = false\n")
    pytester.makepyfile(test_app='''
        import pytest

        def test_the_apps_engine_needs_its_secret_without_capture():
            from postroom import ConfigError
            import app
            # The account waits for its secret; using it says which one.
            with pytest.raises(ConfigError, match="OFFICE_PASSWORD_NOT_SET_IN_TESTS"):
                app.engine.send("office", to="ann@example.org", subject="s", text="t")

        def test_the_engine_fixture_still_captures(postroom_engine, postroom_sent):
            postroom_engine.send("texts", to="07700 900125", text="hi")
            postroom_sent(account="texts", count=1)
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert not (pytester.path / "var").exists()
    assert server.connections == 0


def test_the_projects_own_suite_does_not_capture(request):
    from postroom import capture

    assert request.config.getini("postroom_capture") is False
    assert capture.current() is None
