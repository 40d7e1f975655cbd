"""Secrets: a login written into a host, a server that quotes AUTH back, a secret of
one letter, secret sources that are not text, and warnings about unprotected
accounts in the commands that send.

Nothing shown or stored holds a secret, as typed, URL-encoded or base64; a
refusal names the setting and never echoes its value.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
import trustme
from hostile import outbox, run, run_process, write_config
from loopback.auth_echo import auth_echo_smtp
from loopback.nexmo_api import fake_nexmo

from postroom import SendResult
from postroom.redaction import blanked
from postroom.secrets import scrub

pytestmark = pytest.mark.timeout(120)

PASSWORD = "PW-s3cr3t-77"


def everything_stored(folder: Path) -> str:
    with sqlite3.connect(folder / "postroom.db") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master "
                                                 "WHERE type = 'table'")]
        return "\n".join(repr(row) for table in tables
                         for row in db.execute(f"SELECT * FROM {table}"))


def forms(secret: str, user: str = "reception") -> list[str]:
    return [secret, *(base64.b64encode(text.encode()).decode()
                      for text in (secret, f"\0{user}\0{secret}", f"{user}:{secret}"))]


def test_a_login_in_the_smtp_host_is_refused_without_being_echoed(tmp_path):
    config = write_config(tmp_path, accounts=f"""
[accounts.office]
provider = "smtp"
host = "smtp://reception:{PASSWORD}@127.0.0.1"
sender_email = "office@example.org"
""")
    outputs = []
    for args in (["validate"], ["test", "office"],
                 ["send", "-a", "office", "--to", "ann@example.org", "--text", "x"],
                 ["worker", "--once"], ["queue"], ["log"]):
        for extra in ([], ["--json"]):
            code, said = run(config, *args, *extra)
            outputs.append(said)
            assert "Traceback" not in said
    code, said = run(config, "validate")
    assert code == 2
    assert ("accounts.office.host: expected the server's name only, without a user name or "
            "password (user:password@): put those in username and password") in said
    assert run(config, "send", "-a", "office", "--to", "a@example.org", "--text", "x")[0] == 2
    assert outbox(tmp_path) == []
    assert not [out for out in outputs if PASSWORD in out or "reception" in out]
    assert PASSWORD not in everything_stored(tmp_path)


def test_auth_data_a_server_quotes_back_is_blanked(tmp_path):
    with auth_echo_smtp() as server:
        # One account with a long password, one with a short one: both forms are blanked.
        config = write_config(tmp_path, accounts="".join(f"""
[accounts.{name}]
provider = "smtp"
host = "127.0.0.1"
port = {server.server_address[1]}
security = "none"
username = "reception"
password = "{password}"
sender_email = "office@example.org"
timeout = 5
""" for name, password in (("office", PASSWORD), ("short", "pw"))))
        said = [run(config, "test", name, *extra)[1] for name in ("office", "short")
                for extra in ([], ["--json"])]
        said += [run(config, "send", "-a", name, "--to", "ann@example.org", "--text", "x")[1]
                 for name in ("office", "short")]
        said += [run(config, "log")[1], run(config, "queue")[1], everything_stored(tmp_path)]
    # The server did quote the credentials (one login try, PLAIN's form) for both accounts ...
    echoed = "\n".join(server.echoed)
    assert base64.b64encode(f"\0reception\0{PASSWORD}".encode()).decode() in echoed
    assert base64.b64encode(b"\0reception\0pw").decode() in echoed
    # ... and none of it reached the admin or the outbox.
    leaked = [(form, text) for text in said for form in forms(PASSWORD) + forms("pw")[1:]
              if form in text]
    assert not leaked, leaked
    # The server's quote of the login is there, blanked.
    assert any("authentication failed for ***" in text for text in said), said


def test_a_one_letter_secret_does_not_wreck_error_texts(tmp_path):
    ca = trustme.CA()  # a CA the account does not trust: the certificate check fails
    with fake_nexmo(ca, api_key="k", api_secret="s") as api:
        config = write_config(tmp_path, accounts=f"""
[accounts.texts]
provider = "nexmo"
api_key = "k"
api_secret = "s"
sender = "Clinic"
base_url = "{api.url}"
timeout = 5
""")
        code, said = run(config, "test", "texts")
    assert code == 1
    assert "is not trusted" in said and "certificate" in said, said
    assert "***" not in said


@pytest.mark.parametrize(("text", "secret", "expected"), [
    ("certificate is not trusted", "s", "certificate is not trusted"),
    ("api_secret=s&api_key=k", "s", "api_secret=***&api_key=k"),
    ("login pw refused", "pw", "login *** refused"),
    ("535 " + base64.b64encode(b"\0ann\0pw").decode(), "pw", "535 ***"),
    ("535 " + base64.b64encode(b"ann\0ann\0a-long-secret").decode(), "a-long-secret",
     "535 ***"),
    ("x " + base64.urlsafe_b64encode(b"user:a-long-secret?>").decode(), "a-long-secret?>",
     "x ***"),
    ("AUTH" + base64.b64encode(b"\0ann\0a-long-secret").decode(), "a-long-secret", "***"),
    ("the secret%2Fvalue", "secret/value", "the ***"),
    ("ordinary words and abcdefghij", "zz-not-here", "ordinary words and abcdefghij"),
])
def test_scrub_blanks_every_form_and_nothing_else(text, secret, expected):
    assert scrub(text, [secret]) == expected


def test_a_message_id_that_decodes_to_a_short_secret_is_left_as_it_is():
    # This id, read as base64 from its third character, ends in ":s", as HTTP Basic would.
    message_id = "0000000000000000ab54a98ceb7dc6c2"
    assert scrub(message_id, ["s"]) == "***"
    result = blanked(SendResult.accepted(message_id, message_id), ["s"])
    assert result.message_id == message_id and result.provider_id == "***"


def test_an_environment_secret_that_is_not_text_breaks_only_its_account(tmp_path):
    write_config(tmp_path, accounts="""
[accounts.mail]
provider = "email_file"
[accounts.texts]
provider = "nexmo"
api_key = "k"
api_secret = { env = "NEXMO_SECRET" }
sender = "Clinic"
""")
    code, said = run_process(tmp_path, "validate", env={"NEXMO_SECRET": os.fsdecode(b"\xff\xfe")})
    assert code == 2 and "Traceback" not in said
    assert "accounts.texts.api_secret: environment variable NEXMO_SECRET is not valid UTF-8" \
        in said
    assert run_process(tmp_path, "test", "mail")[0] == 0


@pytest.mark.parametrize(("kind", "says"), [
    ("fifo", "it is a named pipe (FIFO), not a regular file"),
    ("device", "it is a device, not a regular file"),
    ("binary", "it is not UTF-8 text"),
    ("huge", "it is larger than 64 KiB"),
])
def test_a_secret_file_that_is_not_a_secret_is_refused_at_once(tmp_path, kind, says):
    path = {"device": Path("/dev/zero")}.get(kind, tmp_path / "secret")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\xff")
    elif kind == "huge":
        path.write_text("x" * 100_000)
    config = write_config(tmp_path, accounts=f"""
[accounts.texts]
provider = "nexmo"
api_key = "k"
api_secret = {{ file = "{path}" }}
sender = "Clinic"
""")
    started = time.monotonic()
    code, said = run(config, "validate")
    assert code == 2 and f"accounts.texts.api_secret: cannot read secret file {path}: {says}" \
        in said
    assert time.monotonic() - started < 10


# --- unprotected accounts: a warning in every command that sends --------------------------

def test_send_worker_and_test_warn_once_about_checks_turned_off(tmp_path):
    # A worker run does not wait for the retry of the message that cannot go.
    config = write_config(tmp_path, "[delivery]\nonce_wait = 0.5\n", accounts="""
[accounts.office]
provider = "smtp"
host = "127.0.0.1"
port = 9
sender_email = "office@example.org"
tls_verify = false
timeout = 2
[accounts.mail]
provider = "email_file"
""")
    warning = "warning: accounts.office.tls_verify: certificate checks are off"
    for args in (["test", "office"], ["send", "-a", "office", "--queue", "--to",
                                      "ann@example.org", "--text", "x"], ["worker", "--once"]):
        for extra in ([], ["--json"]):
            said = run_process(tmp_path, *args, *extra)[1]
            assert said.count(warning) == 1, (args, said)
    # Commands for other accounts say nothing of it; --json output stays JSON.
    assert warning not in run_process(tmp_path, "test", "mail")[1]
    assert json.loads(run(config, "test", "mail", "--json")[1])["ok"] is True


def test_plain_http_to_an_api_is_repeated_by_send(tmp_path):
    config = write_config(tmp_path, accounts="""
[accounts.texts]
provider = "nexmo"
api_key = "k"
api_secret = "nexmo-secret"
sender = "Clinic"
base_url = "http://127.0.0.1:9"
timeout = 2
""")
    code, said = run(config, "send", "-a", "texts", "--queue", "--to", "+447700900123",
                     "--text", "x")
    assert code == 0
    assert said.count("warning: accounts.texts.base_url: base_url uses plain http") == 1
