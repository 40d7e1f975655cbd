"""The process's one ``Engine``, built from Django's settings on first use.

Changing a ``POSTROOM*`` setting (``override_settings`` in tests) drops it,
so the next use builds it again from the new settings.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from django.core import checks
from django.core.signals import setting_changed

from postroom import capture
from postroom.capture import Capture
from postroom.contrib.django.conf import SETTINGS, DjangoSettings
from postroom.engine import Engine
from postroom.errors import ConfigError

_lock = threading.Lock()
_engine: Engine | None = None
_capture: Capture | None = None  # the capture this module turned on, if any


def engine() -> Engine:
    """The ``Engine`` of this process: ``engine().send("texts", to=..., text=...)``.

    Safe to share between threads (see "Async" in the README).
    """
    global _engine
    with _lock:
        if _engine is None:
            _engine = _build(DjangoSettings.read())
        return _engine


def _django_is_testing() -> bool:
    # Django's test runner (and pytest-django) create mail.outbox when they set up
    # the test environment, which is also when they swap EMAIL_BACKEND out.
    from django.core import mail

    return hasattr(mail, "outbox")


def _capture_when_testing(chosen: DjangoSettings) -> None:
    global _capture
    if capture.current() is not None:  # the pytest plugin captures already
        return
    wanted = _django_is_testing() if chosen.capture is None else chosen.capture
    if not wanted:
        return
    if _capture is None:
        _capture = Capture(tempfile.mkdtemp(prefix="postroom-test-"))
        atexit.register(shutil.rmtree, _capture.directory, ignore_errors=True)
    capture.activate(_capture)


def _build(chosen: DjangoSettings) -> Engine:
    _capture_when_testing(chosen)
    if chosen.config is None or isinstance(chosen.config, Path):
        return Engine.from_file(chosen.config)
    return Engine.from_dict(chosen.config, base_dir=chosen.base_dir)


def reset(**_signal) -> None:
    """Drop the process's engine; the next ``engine()`` builds it from the settings."""
    global _engine
    with _lock:
        old, _engine = _engine, None
    if old is not None:
        old.close()


def _on_setting_changed(setting: str, **kw) -> None:
    if setting in SETTINGS:
        if setting == "POSTROOM_CAPTURE" and _capture is not None:
            capture.deactivate(_capture)
        reset()


setting_changed.connect(_on_setting_changed)


def configuration_errors(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The system check: postroom's configuration loads, or each problem is named
    (an account whose settings cannot be read included: it would send nothing)."""
    try:
        issues = [issue for broken in engine().config.broken.values()
                  for issue in broken.problems]
    except ConfigError as exc:
        issues = exc.issues
    return [checks.Error(f"{path or 'config'}: {problem}", id="postroom.E001",
                         hint="fix postroom.toml, or the POSTROOM setting that names it")
            for path, problem in issues]
