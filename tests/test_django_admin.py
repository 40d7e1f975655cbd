"""The read-only Django admin over postroom's queue and delivery log: shown when the
outbox is in Django's own PostgreSQL database, not registered for another store.

Each case runs a Django site in a process of its own (settings are per process),
with Django's tables beside postroom's in the test's schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from psycopg.conninfo import conninfo_to_dict

pytestmark = pytest.mark.timeout(120)

SITE = textwrap.dedent("""
    import json, sys
    import django
    from django.conf import settings

    database, store, folder = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    settings.configure(
        SECRET_KEY="admin-tests-only", ALLOWED_HOSTS=["testserver"], USE_TZ=True,
        ROOT_URLCONF="__main__", DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth",
                        "django.contrib.contenttypes", "django.contrib.sessions",
                        "django.contrib.messages", "postroom.contrib.django"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "APP_DIRS": True,
                    "OPTIONS": {"context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages"]}}],
        DATABASES={"default": database},
        EMAIL_BACKEND="postroom.contrib.django.EmailBackend",
        POSTROOM={"store": store, "accounts": {"office": {
            "provider": "email_file", "directory": folder, "sender": "desk@clinic.example"}}},
    )
    django.setup()
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.core.mail import send_mail
    from django.core.management import call_command
    from django.test import Client
    from django.urls import path
    from postroom.contrib.django import engine
    from postroom.contrib.django.models import DeliveryLogEntry, OutboxMessage

    urlpatterns = [path("admin/", admin.site.urls)]
    found = {"registered": [admin.site.is_registered(OutboxMessage),
                            admin.site.is_registered(DeliveryLogEntry)]}
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits 1 if not clean
    send_mail("Booked", "See you.", None, ["ann@example.org"])
    found["sent by the worker"] = engine().run_worker(once=True, wait=0).sent
    send_mail("Moved", "See you later.", None, ["bo@example.org"])
    call_command("migrate", verbosity=0)
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "x"))

    def page(url, method="get"):
        response = getattr(client, method)(url)
        return response.status_code, response.content.decode()

    def rows(url):
        status, html = page(url)
        return status, sorted(address for address in ("ann@example.org", "bo@example.org")
                              if address in html)

    index = page("/admin/")[1]
    found["index"] = [f'href="/admin/postroom/{name}/"' in index
                      for name in ("outboxmessage", "deliverylogentry")]
    found["outbox"] = rows("/admin/postroom/outboxmessage/")
    found["queued"] = rows("/admin/postroom/outboxmessage/?state=queued")
    found["searched"] = rows("/admin/postroom/outboxmessage/?q=bo%40")
    found["log"] = rows("/admin/postroom/deliverylogentry/")
    found["accepted"] = rows("/admin/postroom/deliverylogentry/?outcome=accepted&account=office")
    seq = OutboxMessage.objects.get(recipient="bo@example.org").seq
    status, html = page(f"/admin/postroom/outboxmessage/{seq}/change/")
    found["one message"] = [status, "See you later" in html or "Moved" in html,
                            'name="_save"' in html]
    found["refused"] = [page("/admin/postroom/outboxmessage/add/")[0],
                        page(f"/admin/postroom/outboxmessage/{seq}/change/", "post")[0],
                        page(f"/admin/postroom/outboxmessage/{seq}/delete/")[0],
                        page("/admin/postroom/deliverylogentry/add/")[0]]
    print(json.dumps(found))
""")

# Whether the pages are registered, and whether a superuser may see them (no tables needed).
REGISTRY = textwrap.dedent("""
    import json, sys
    import django
    from django.conf import settings

    database, store, folder = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    settings.configure(
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth",
                        "django.contrib.contenttypes", "postroom.contrib.django"],
        DATABASES={"default": database},
        POSTROOM={"store": store, "accounts": {"office": {"provider": "email_file"}}},
    )
    django.setup()
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.test import RequestFactory
    from postroom.contrib.django.models import DeliveryLogEntry, OutboxMessage

    request = RequestFactory().get("/admin/")
    request.user = User(is_active=True, is_staff=True, is_superuser=True)
    shown = {}
    for model in (OutboxMessage, DeliveryLogEntry):
        if admin.site.is_registered(model):
            model_admin = admin.site.get_model_admin(model)
            shown[model._meta.model_name] = [admin.site.has_permission(request),
                                             model_admin.has_module_permission(request),
                                             model_admin.has_view_permission(request)]
    print(json.dumps(shown))
""")


def run(tmp_path, script: str, database: dict, store: dict) -> dict:
    (tmp_path / "site.py").write_text(script)
    done = subprocess.run([sys.executable, "site.py", json.dumps(database), json.dumps(store),
                           str(tmp_path / "mail")], capture_output=True, text=True, timeout=90,
                          cwd=tmp_path, env={**os.environ}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_superuser_sees_the_queue_and_the_log_and_cannot_change_them(
        tmp_path, postgres_url, pg_schema):
    parts = conninfo_to_dict(postgres_url)
    # Django's own tables go to the test's schema too, which is dropped after it.
    database = {"ENGINE": "django.db.backends.postgresql", "NAME": parts["dbname"],
                "USER": parts.get("user", ""), "HOST": parts.get("host", ""),
                "PORT": parts.get("port", ""),
                "OPTIONS": {"options": f"-c search_path={pg_schema}"}}
    found = run(tmp_path, SITE, database, {"url": postgres_url, "schema": pg_schema})
    assert found == {
        "registered": [True, True],
        "sent by the worker": 1,
        "index": [True, True],
        "outbox": [200, ["ann@example.org", "bo@example.org"]],
        "queued": [200, ["bo@example.org"]],
        "searched": [200, ["bo@example.org"]],
        "log": [200, ["ann@example.org"]],
        "accepted": [200, ["ann@example.org"]],
        "one message": [200, True, False],  # shown, with no Save button
        "refused": [403, 403, 403, 403],
    }


def test_with_an_sqlite_store_the_admin_is_not_registered(tmp_path):
    found = run(tmp_path, REGISTRY,
                {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "site.db")},
                {"path": str(tmp_path / "outbox.db")})
    assert found == {}


def test_an_outbox_in_another_postgresql_database_is_not_shown(
        tmp_path, postgres_url, pg_schema):
    # Registered (both are PostgreSQL, as far as the settings tell), then hidden once
    # a request finds the outbox in another database than Django's.
    parts = conninfo_to_dict(postgres_url)
    other = "postgres" if parts["dbname"] != "postgres" else "template1"
    database = {"ENGINE": "django.db.backends.postgresql", "NAME": other,
                "USER": parts.get("user", ""), "HOST": parts.get("host", ""),
                "PORT": parts.get("port", "")}
    found = run(tmp_path, REGISTRY, database, {"url": postgres_url, "schema": pg_schema})
    assert found == {"outboxmessage": [True, False, False],
                     "deliverylogentry": [True, False, False]}
