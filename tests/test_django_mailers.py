"""Django 6.1's MAILERS setting, one mailer per postroom account.

Django 6.1 needs Python 3.12 or later, so this builds a fresh virtual
environment with such a Python (skipped where there is none), installs
postroom and Django 6.1 in it, and sends through two mailers. Slow (real pip
installs), run in CI.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import textwrap

import pytest
from test_packaging import ROOT, copy_project, run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SCRIPT = textwrap.dedent("""
    import json, sys
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["postroom.contrib.django"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        MAILERS={
            "default": {"BACKEND": "postroom.contrib.django.EmailBackend"},
            "newsletter": {"BACKEND": "postroom.contrib.django.EmailBackend",
                           "OPTIONS": {"account": "bulk"}},
            "misspelt": {"BACKEND": "postroom.contrib.django.EmailBackend",
                         "OPTIONS": {"acount": "bulk"}},
        },
        POSTROOM={"store": {"path": sys.argv[1] + "/outbox.db"},
                  "accounts": {"office": {"provider": "email_file"},
                               "bulk": {"provider": "email_file"}}},
        DEFAULT_FROM_EMAIL="desk@clinic.example",
    )
    django.setup()
    from django.core import mail
    from postroom.contrib.django import engine

    mail.send_mail("Booked", "See you.", None, ["ann@example.org"])
    mail.send_mail("News", "Hours.", None, ["bo@example.org"], using="newsletter")
    try:
        mail.mailers["misspelt"]
        refused = ""
    except mail.InvalidMailer as exc:
        refused = str(exc)
    print(json.dumps({"django": django.get_version(), "refused": refused,
                      "queued": {row.account: row.waiting for row in engine().queue()}}))
""")


def modern_python() -> str | None:
    """A Python 3.12 or later that runs, or None."""
    candidates = [shutil.which(f"python3.{minor}") for minor in range(12, 16)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")))
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                              capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip() == "True":
            return candidate
    return None


def test_each_mailer_sends_through_its_own_account(tmp_path):
    python = modern_python()
    if python is None:
        pytest.skip("Django 6.1 needs Python 3.12 or later, and there is none here")
    venv = tmp_path / "venv"
    run(python, "-m", "venv", venv)
    source = copy_project(ROOT, tmp_path / "postroom")
    run(venv / "bin/python", "-m", "pip", "install", "--quiet", f"{source}[django]",
        "django>=6.1")
    (tmp_path / "mailers.py").write_text(SCRIPT)
    result = json.loads(run(venv / "bin/python", tmp_path / "mailers.py", tmp_path))
    assert tuple(int(p) for p in result["django"].split(".")[:2]) >= (6, 1)
    assert result["queued"] == {"bulk": 1, "office": 1}
    assert "acount" in result["refused"]
