"""The pytest plugin for apps that send through postroom (entry point ``pytest11``).

With it installed, an app's test run never touches its real outbox or its
providers: every ``Engine`` made during the run captures messages instead
of sending them, on a throwaway outbox (see ``postroom.capture``). Fixtures::

    def test_booking_sends_a_confirmation(client, postroom_sent):
        client.post("/book", {"email": "ann@example.org"})
        [message] = postroom_sent(account="office", to="ann@example.org")
        assert "Tuesday" in message.text

``postroom_engine``
    an ``Engine`` on the app's configuration (``postroom_config`` in the
    pytest ini, else ``$POSTROOM_CONFIG``, else ``postroom.toml`` in the
    rootdir; or a dict from a ``postroom_settings`` fixture the app
    defines), capturing.
``postroom_outbox``
    the ``Outbox`` of this test: ``queued``, ``delivered``, ``rendered``;
    emptied before each test.
``postroom_sent(account=, to=, channel=, subject=, contains=, count=, delivered=)``
    the captured messages that fit; fails the test, listing what was
    captured, when none fit (or not exactly ``count``).
``postroom_rendered(template=, to=, count=)``
    the templates rendered, the same way.

Ini options: ``postroom_capture = false`` turns the process-wide capture off
(then only tests using these fixtures capture); ``postroom_config = PATH``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from postroom import capture
from postroom.capture import Capture, Captured, Outbox
from postroom.config import CONFIG_FILE, CONFIG_VARIABLE
from postroom.engine import Engine
from postroom.templating import Rendered

_SESSION_KEY = pytest.StashKey[Capture]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("postroom_capture", type="bool", default=True,
                  help="postroom: capture every message instead of sending it, on a "
                       "throwaway outbox, for the whole run (default: true).")
    parser.addini("postroom_config", type="string", default="",
                  help="postroom: the app's postroom.toml, for the postroom_engine fixture.")


def pytest_configure(config: pytest.Config) -> None:
    if config.getini("postroom_capture"):
        session = Capture(tempfile.mkdtemp(prefix="postroom-test-"))
        config.stash[_SESSION_KEY] = session
        capture.activate(session)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION_KEY, None)
    if session is not None:
        capture.deactivate(session)
        shutil.rmtree(session.directory, ignore_errors=True)


@pytest.fixture
def postroom_outbox(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Outbox]:
    """What the app handed to postroom during this test."""
    session = request.config.stash.get(_SESSION_KEY, None)
    if session is not None:
        session.reset()
        yield session.outbox
        return
    # The run does not capture as a whole: capture for this test alone.
    own = Capture(tmp_path_factory.mktemp("postroom"))
    capture.activate(own)
    try:
        yield own.outbox
    finally:
        capture.deactivate(own)


@pytest.fixture
def postroom_settings() -> Mapping[str, object] | None:
    """Override to give ``postroom_engine`` a config dict instead of a file."""
    return None


@pytest.fixture
def postroom_engine(request: pytest.FixtureRequest, postroom_outbox: Outbox,
                    postroom_settings: Mapping[str, object] | None) -> Iterator[Engine]:
    """An engine on the app's configuration whose providers capture, on a throwaway outbox."""
    root = Path(str(request.config.rootpath))
    if postroom_settings is not None:
        engine = Engine.from_dict(postroom_settings, base_dir=root)
    else:
        named = request.config.getini("postroom_config") or os.environ.get(CONFIG_VARIABLE)
        engine = Engine.from_file(root / (named or CONFIG_FILE))
    with engine:
        yield engine


@pytest.fixture
def postroom_sent(postroom_outbox: Outbox) -> Callable[..., list[Captured]]:
    """``postroom_sent(account=..., to=...)``: the matching captured messages, or a failure."""

    def sent(*, count: int | None = None, delivered: bool = False,
             **criteria: str | None) -> list[Captured]:
        try:
            return postroom_outbox.expect(count=count, delivered=delivered, **criteria)
        except AssertionError as exc:
            pytest.fail(str(exc), pytrace=False)

    return sent


@pytest.fixture
def postroom_rendered(postroom_outbox: Outbox) -> Callable[..., list[Rendered]]:
    """``postroom_rendered(template="reminder", to=...)``: templates rendered, or a failure."""

    def rendered(template: str | None = None, *, to: str | None = None,
                 count: int | None = None) -> list[Rendered]:
        try:
            return postroom_outbox.expect_rendered(template, to=to, count=count)
        except AssertionError as exc:
            pytest.fail(str(exc), pytrace=False)

    return rendered
