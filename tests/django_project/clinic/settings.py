"""Settings of the test project. The database and postroom's config come from the
environment, so each test run points them at its own temporary folder."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "clinic-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "clinic.urls"
MIDDLEWARE: list[str] = []
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "postroom.contrib.django",
    "clinic",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("CLINIC_DB", BASE_DIR / "clinic.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

EMAIL_BACKEND = "postroom.contrib.django.EmailBackend"
DEFAULT_FROM_EMAIL = "webmaster@clinic.example"
POSTROOM = os.environ["CLINIC_POSTROOM"]          # the path of postroom.toml
POSTROOM_EMAIL_ACCOUNT = "office"
