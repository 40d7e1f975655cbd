"""What only the PostgreSQL store does: enqueue inside the app's own transaction, and
an idle worker woken by NOTIFY instead of its next poll."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from conftest import store_toml

from postroom import ConfigError, Engine, StoreError
from postroom.errors import StoreUnavailable

ACCOUNTS = {"region": "GB", "accounts": {"mail": {"provider": "email_file"}}}


@pytest.fixture
def engine(tmp_path, pg_store_settings):
    with Engine.from_dict({**ACCOUNTS, "store": pg_store_settings}, base_dir=tmp_path,
                          environ={}) as made:
        yield made


@pytest.fixture
def app(postgres_url):
    """The app's own connection, with a table of its own, as a web app has."""
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TEMP TABLE appointments (id SERIAL, who TEXT)")
        conn.commit()
        yield conn


def queued(engine: Engine) -> int:
    return sum(row.waiting + row.scheduled for row in engine.queue())


def test_a_rolled_back_transaction_queues_nothing_and_a_committed_one_is_sent(
        engine, app, tmp_path):
    with app.transaction():
        app.execute("INSERT INTO appointments (who) VALUES ('ann')")
        engine.send("mail", to="ann@example.org", subject="Booked", text="x", connection=app)
        assert queued(engine) == 0  # not committed: no worker sees it yet
        raise psycopg.Rollback  # the app's transaction fails
    assert app.execute("SELECT COUNT(*) FROM appointments").fetchone() == (0,)
    assert queued(engine) == 0
    assert engine.run_worker(once=True, wait=0).sent == 0

    app.execute("INSERT INTO appointments (who) VALUES ('bo')")
    (mid,) = engine.send("mail", to="bo@example.org", subject="Booked", text="x",
                         connection=app)
    assert queued(engine) == 0
    app.commit()
    assert queued(engine) == 1 and engine.store.find(mid).state == "queued"
    assert engine.run_worker(once=True, wait=0).sent == 1
    (eml,) = (tmp_path / "outbox" / "email").glob("*.eml")
    assert "To: bo@example.org" in eml.read_text()


def test_an_idempotency_key_holds_inside_the_apps_transaction(engine, app):
    first = engine.send("mail", to="ann@example.org", text="x", idempotency_key="appt-1",
                        connection=app)
    again = engine.send("mail", to="ann@example.org", text="x", idempotency_key="appt-1",
                        connection=app)
    app.commit()
    assert first == again and queued(engine) == 1


def test_a_connection_to_another_database_or_of_another_kind_is_refused(
        engine, postgres_url):
    parts = urlsplit(postgres_url)
    other = urlunsplit(parts._replace(path="/postgres"))
    no_outbox = r"no postroom outbox in schema .*\[store\] url"
    with psycopg.connect(other) as elsewhere, pytest.raises(StoreError, match=no_outbox):
        engine.send("mail", to="ann@example.org", text="x", connection=elsewhere)
    with pytest.raises(TypeError, match="psycopg"):
        engine.send("mail", to="ann@example.org", text="x", connection="postgresql://x")
    assert queued(engine) == 0


def test_a_url_that_is_not_postgresql_is_refused_without_showing_it(tmp_path):
    with pytest.raises(ConfigError) as refused:
        Engine.from_dict({**ACCOUNTS, "store": {"url": "mysql://root:hunter2@db/app"}},
                         base_dir=tmp_path, environ={})
    assert "store.url: expected a PostgreSQL URL" in str(refused.value)
    assert "hunter2" not in str(refused.value)


#: ``postroom`` where the ``postgres`` extra is not installed: importing psycopg fails.
WITHOUT_PSYCOPG = 'import sys; sys.modules["psycopg"] = None; from postroom.cli import main; main()'


@pytest.mark.parametrize("command", [["queue"], ["worker", "--once"], ["store", "upgrade"]])
def test_a_postgresql_url_without_the_postgres_extra_says_what_to_install_not_the_password(
        tmp_path, command):
    config = tmp_path / "postroom.toml"
    config.write_text('region = "GB"\n[accounts.mail]\nprovider = "email_file"\n[store]\n'
                      'url = "postgresql://postroom:hunter2@127.0.0.1:5432/app"\n')
    done = subprocess.run([sys.executable, "-c", WITHOUT_PSYCOPG, "--config", str(config),
                           *command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert ("error: store.url: a PostgreSQL store needs psycopg, which is not installed: "
            'pip install "postroom[postgres]"') in done.stderr
    assert "Traceback" not in done.stderr
    assert "hunter2" not in done.stdout + done.stderr


def test_an_unreachable_database_is_an_error_for_people_without_its_password(tmp_path):
    from loopback.ports import refused_port

    url = f"postgresql://postroom:hunter2@127.0.0.1:{refused_port()}/app"
    engine = Engine.from_dict({**ACCOUNTS, "store": {"url": url}}, base_dir=tmp_path,
                              environ={})
    with pytest.raises(StoreUnavailable) as refused:
        engine.queue()
    text = str(refused.value)
    assert refused.value.problem == "unreachable"
    assert "the outbox at postgresql://postroom@127.0.0.1" in text
    assert "cannot reach PostgreSQL" in text
    assert "hunter2" not in text and "check that the server runs" in text


def test_an_idle_worker_starts_on_a_new_message_at_once_not_at_its_next_poll(
        tmp_path, pg_store_settings, postgres_url):
    config = tmp_path / "postroom.toml"
    # A poll of ten minutes: only the notification can wake the worker in time.
    config.write_text('region = "GB"\n[delivery]\npoll = 600\n[accounts.mail]\n'
                      'provider = "email_file"\n' + store_toml(pg_store_settings))
    worker = subprocess.Popen([sys.executable, "-m", "postroom", "--config", str(config),
                               "worker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=os.environ)
    channel = f"postroom_{pg_store_settings['schema']}"
    try:
        with psycopg.connect(postgres_url, autocommit=True) as watch:
            deadline = time.monotonic() + 30
            while not watch.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE query = %s",
                                    (f'LISTEN "{channel}"',)).fetchone()[0]:
                assert time.monotonic() < deadline, "the worker never started listening"
                time.sleep(0.05)
        with Engine.from_file(config) as engine:
            engine.send("mail", to="ann@example.org", subject="Now", text="x")
            deadline = time.monotonic() + 60
            while not list((tmp_path / "outbox" / "email").glob("*.eml")):
                assert time.monotonic() < deadline, "the worker did not wake for the message"
                time.sleep(0.05)
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
