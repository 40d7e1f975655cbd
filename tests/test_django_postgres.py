"""Django on PostgreSQL with the outbox in the same database: ``send_mail`` inside
``transaction.atomic()`` writes the outbox rows in the app's own transaction, so they
commit or roll back with the app's rows; an outbox in another database falls back to
queuing when the transaction commits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from psycopg.conninfo import conninfo_to_dict

pytestmark = pytest.mark.timeout(120)

SCRIPT = textwrap.dedent("""
    import json, sys
    import django
    from django.conf import settings

    database, store = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    settings.configure(
        INSTALLED_APPS=["postroom.contrib.django"],
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", **database}},
        EMAIL_BACKEND="postroom.contrib.django.EmailBackend",
        POSTROOM={"store": store, "accounts": {"office": {"provider": "email_file"}}},
        DEFAULT_FROM_EMAIL="desk@clinic.example",
    )
    django.setup()
    from django.core.mail import send_mail
    from django.db import connection, transaction
    from postroom.contrib.django import engine

    def waiting():
        return sum(row.waiting for row in engine().queue())

    def seen_by_django():
        table = f'"{store["schema"]}".outbox'
        with connection.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", [table])
            if cur.fetchone()[0] is None:
                return None  # Django's database has no outbox
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            return cur.fetchone()[0]

    found = {}
    try:
        with transaction.atomic():
            send_mail("Booked", "See you.", None, ["ann@example.org"])
            found["inside: in django's transaction"] = seen_by_django()
            found["inside: seen by the outbox"] = waiting()
            raise RuntimeError("the booking failed")
    except RuntimeError:
        pass
    found["after a rollback"] = waiting()
    with transaction.atomic():
        send_mail("Booked", "See you.", None, ["bo@example.org"])
    found["after a commit"] = waiting()
    print(json.dumps(found))
""")


def run(tmp_path, database: dict, store: dict) -> dict:
    script = tmp_path / "booking.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), json.dumps(database), json.dumps(store)],
                          capture_output=True, text=True, timeout=90, cwd=tmp_path,
                          env={**os.environ}, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def django_database(url: str, name: str | None = None) -> dict:
    parts = conninfo_to_dict(url)
    return {"NAME": name or parts["dbname"], "USER": parts.get("user", ""),
            "HOST": parts.get("host", ""), "PORT": parts.get("port", "")}


def test_an_outbox_in_djangos_database_commits_and_rolls_back_with_the_app(
        tmp_path, postgres_url, pg_schema):
    found = run(tmp_path, django_database(postgres_url),
                {"url": postgres_url, "schema": pg_schema})
    assert found == {"inside: in django's transaction": 1,  # written in the transaction
                     "inside: seen by the outbox": 0,       # and not committed yet
                     "after a rollback": 0, "after a commit": 1}


def test_an_outbox_in_another_database_queues_when_the_transaction_commits(
        tmp_path, postgres_url, pg_schema):
    # Django's tables in another database of the server: the rows cannot share a
    # transaction, so the messages wait for the commit (on_commit) instead.
    other = "postgres" if conninfo_to_dict(postgres_url)["dbname"] != "postgres" else "template1"
    found = run(tmp_path, django_database(postgres_url, other),
                {"url": postgres_url, "schema": pg_schema})
    assert found == {"inside: in django's transaction": None,
                     "inside: seen by the outbox": 0,
                     "after a rollback": 0, "after a commit": 1}
