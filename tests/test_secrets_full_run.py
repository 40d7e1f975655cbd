"""A full run with recognisable secrets: none of them shows up anywhere postroom writes.

The config holds an SMTP password (from the environment), a POP3 password
and a Nexmo signature secret (from files), Nexmo API secrets (environment),
and wrong ones for the failing accounts. The accounts point at loopback
servers speaking TLS: SMTP with STARTTLS and AUTH after a POP3 login over
SSL, and the fake Nexmo API over HTTPS. Every CLI command then runs, with
and without ``--json``, in this process (so logging is captured at DEBUG)
and as a separate process (so real stderr is seen, with the logs at DEBUG, as
text and as JSON lines). Everything produced is
scanned: output, log records, every row of the SQLite file, reprs of the
configuration, and the texts and tracebacks of deliberate failures. The
secrets are looked for as typed, URL-encoded and base64-encoded (as SMTP
AUTH PLAIN/LOGIN and HTTP Basic authentication send them, in both base64
alphabets). One SMTP server quotes the AUTH data it refuses back in its
reply, so the base64 forms really are there to be leaked.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import trustme
from click.testing import CliRunner
from loopback.auth_echo import auth_echo_smtp
from loopback.certificates import server_context, write_ca_file
from loopback.nexmo_api import fake_nexmo
from loopback.pop3 import running_pop3
from loopback.smtp import running_smtp

from postroom import Engine, PluginError
from postroom.cli import cli
from postroom_smtp import SessionError, SmtpSession

pytestmark = pytest.mark.timeout(240)

USER = "ann"
API_KEY = "fake-key"
SMTP_PASSWORD = "smtp-Pw-7f3e9a1c"
WRONG_SMTP_PASSWORD = "wrong-smtp-Pw-0b5d2e48"
POP3_PASSWORD = "pop3-Pw-c41d88e2"
NEXMO_SECRET = "nexmo-Sec&ret=2a9f/+x"  # characters that URL encoding changes
WRONG_NEXMO_SECRET = "nexmo-Wrong&5c6d=/+"
SIGNATURE_SECRET = "sig-Sec&ret=8e1b/+y"
ECHOED_PASSWORD = "echoed-Pw-93d1f0/+"  # sent to the server that quotes AUTH back
SECRETS = (SMTP_PASSWORD, WRONG_SMTP_PASSWORD, POP3_PASSWORD, NEXMO_SECRET, WRONG_NEXMO_SECRET,
           ECHOED_PASSWORD,
           SIGNATURE_SECRET)
ENVIRONMENT = {"OFFICE_SMTP_PASSWORD": SMTP_PASSWORD, "WRONG_SMTP_PASSWORD": WRONG_SMTP_PASSWORD,
               "ECHOED_PASSWORD": ECHOED_PASSWORD,
               "NEXMO_API_SECRET": NEXMO_SECRET, "WRONG_NEXMO_SECRET": WRONG_NEXMO_SECRET}


def spellings(secret: str) -> set[str]:
    """Every form a secret could leak in: as typed, URL-encoded, and base64 (both
    alphabets) as AUTH LOGIN, AUTH PLAIN (with and without an authorisation id) and
    HTTP Basic authentication encode it."""
    encoded = [secret, f"\0{USER}\0{secret}", f"{USER}\0{USER}\0{secret}",
               f"{API_KEY}:{secret}", f"{USER}:{secret}"]
    return {secret, quote(secret, safe=""), quote_plus(secret),
            *(encode(text.encode()).decode() for text in encoded
              for encode in (base64.b64encode, base64.urlsafe_b64encode))}


FORBIDDEN = set().union(*map(spellings, SECRETS))


def leaks(text: str) -> list[str]:
    return sorted(form for form in FORBIDDEN if form in text)


TEMPLATE_FILES = {
    "reminder/subject.txt": "Reminder for {{ recipient.to }}",
    "reminder/text.txt": "See you on {{ when }}.",
    "reminder/sms.txt": "Reminder: {{ when }}",
}


def write_config(folder: Path, smtp_port: int, pop3_port: int, api_url: str,
                 echo_port: int) -> Path:
    for name, text in TEMPLATE_FILES.items():
        (folder / "templates" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "templates" / name).write_text(text)
    (folder / "pop3.secret").write_text(POP3_PASSWORD + "\n")
    (folder / "signature.secret").write_text(SIGNATURE_SECRET + "\n")
    smtp = f"""provider = "smtp"
host = "127.0.0.1"
port = {smtp_port}
security = "starttls"
username = "{USER}"
sender_email = "ann@example.org"
tls_ca_file = "ca.pem"
local_hostname = "postroom.test"
timeout = 5"""
    nexmo = f"""provider = "nexmo"
api_key = "{API_KEY}"
sender = "Clinic"
base_url = "{api_url}"
ca_bundle = "ca.pem"
timeout = 5"""
    config = folder / "postroom.toml"
    config.write_text(f"""
region = "GB"
[store]
path = "postroom.db"
[delivery]
backoff = 0.1
max_attempts = 2
once_wait = 1
[templates]
directory = "templates"
[channels]
email = ["office"]
sms = ["texts"]
[events.reminder]
template = "reminder"
channels = ["email", "sms"]

[accounts.office]
{smtp}
password = {{ env = "OFFICE_SMTP_PASSWORD" }}
[accounts.office.pop3]
port = {pop3_port}
security = "ssl"
password = {{ file = "pop3.secret" }}

[accounts.office_echo]
provider = "smtp"
host = "127.0.0.1"
port = {echo_port}
security = "none"
username = "{USER}"
password = {{ env = "ECHOED_PASSWORD" }}
sender_email = "ann@example.org"
timeout = 5

[accounts.office_wrong]
{smtp}
password = {{ env = "WRONG_SMTP_PASSWORD" }}

[accounts.texts]
{nexmo}
api_secret = {{ env = "NEXMO_API_SECRET" }}
signature_secret = {{ file = "signature.secret" }}
signature_method = "sha256"

[accounts.texts_plain]
{nexmo}
api_secret = {{ env = "NEXMO_API_SECRET" }}

[accounts.texts_wrong]
{nexmo}
api_secret = {{ env = "WRONG_NEXMO_SECRET" }}
""")
    return config


# Each command is run with and without --json; the last one empties the log.
COMMANDS = [
    ["plugins"], ["validate"],
    ["test", "office"], ["test", "office", "--to", "bob@example.org"], ["test", "office_wrong"],
    ["test", "texts"], ["test", "texts", "--to", "07700 900123"], ["test", "texts_plain"],
    ["test", "texts_wrong"], ["test", "texts_wrong", "--to", "07700 900123"],
    ["send", "-a", "office", "--to", "bob@example.org", "--subject", "Hi", "--text", "Hello"],
    ["send", "-a", "office_wrong", "--to", "bob@example.org", "--text", "x"],
    ["test", "office_echo"],
    ["send", "-a", "office_echo", "--to", "bob@example.org", "--text", "x"],
    ["send", "-a", "office", "--queue", "--to", "cy@example.org", "--text", "later"],
    ["send", "-a", "texts", "--to", "07700 900123", "--text", "hi"],
    ["send", "-a", "texts_plain", "--to", "07700 900124", "--text", "hi"],
    ["send", "-a", "texts_wrong", "--to", "07700 900125", "--text", "hi"],
    ["send", "-a", "texts_plain", "--queue", "--to", "07700 900126", "--text", "later"],
    ["worker", "--once"], ["queue"], ["log"], ["log", "--status", "account_stopped"],
    ["estimate", "office", "--count", "100"], ["estimate", "texts", "--count", "5000"],
    ["render", "reminder", "--to", "ann@example.org", "--var", "when=Tuesday"],
    ["notify", "reminder", "--to", "ann@example.org", "--to", "07700 900127",
     "--var", "when=Tuesday"],
    ["credits", "texts"], ["credits", "texts_wrong"], ["credits", "office"], ["health"],
    ["store", "backup", "backup.db"], ["log", "clear"],
]
# How the separate processes log: everything, as text and as JSON lines by turns.
LOGGING = (["--log-level", "debug"], ["--log-level", "debug", "--log-format", "json"])


@pytest.fixture
def servers(tmp_path) -> Iterator[dict]:
    """SMTP (STARTTLS, AUTH after a POP3 login) and POP3 (SSL) and the Nexmo API (HTTPS)."""
    ca = trustme.CA()
    write_ca_file(ca, tmp_path / "ca.pem")
    tls = server_context(ca)
    with ExitStack() as stack:
        pop3 = stack.enter_context(running_pop3(users={USER: POP3_PASSWORD}, security="ssl",
                                                tls_context=tls))
        echo = stack.enter_context(auth_echo_smtp())
        smtp = stack.enter_context(running_smtp(
            security="starttls", tls_context=tls, require_starttls=True, auth_required=True,
            users={USER: SMTP_PASSWORD}))
        api = stack.enter_context(fake_nexmo(ca, api_key=API_KEY, api_secret=NEXMO_SECRET,
                                             signature_secret=SIGNATURE_SECRET,
                                             signature_method="sha256"))
        yield {"smtp": smtp, "pop3": pop3, "api": api, "echo": echo,
               "config": write_config(tmp_path, smtp.port, pop3.port, api.url,
                                      echo.server_address[1])}


@pytest.fixture
def signals_kept():
    """The worker command takes over SIGTERM and SIGINT; give them back afterwards."""
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in kept.items():
        signal.signal(sig, handler)


def run_in_process(config: Path, args: list[str]) -> tuple[int, str]:
    result = CliRunner(env=ENVIRONMENT).invoke(cli, ["--config", str(config), *args],
                                               catch_exceptions=False)
    return result.exit_code, result.output + result.stderr


def run_as_process(config: Path, args: list[str], logging_args: list[str]) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "postroom", "--config", str(config),
                           *logging_args, *args],
                          env={**os.environ, **ENVIRONMENT}, capture_output=True, text=True,
                          timeout=60, check=False)
    return done.returncode, done.stdout + done.stderr


def database_rows(path: Path) -> list[str]:
    """Every row of every table, as text."""
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [f"{table}: {row!r}" for table in tables
                for row in db.execute(f"SELECT * FROM {table}")]


def exception_texts(error: BaseException) -> list[str]:
    """The error's text and traceback, and those of every error chained to it,
    shown or suppressed (an error reporter may walk them all)."""
    texts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        texts += [str(error), repr(error), "".join(traceback.format_exception(error)),
                  repr(getattr(error, "args", ()))]
        error = error.__cause__ or error.__context__
    return texts


def test_no_secret_appears_in_anything_a_full_run_produces(servers, caplog, signals_kept):
    config = servers["config"]
    api = servers["api"]
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests", "smtplib", "postroom", "postroom_smtp",
                 "postroom_nexmo"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    produced: list[tuple[str, str]] = []  # (where, text)
    codes: dict[tuple[str, ...], int] = {}

    for args in COMMANDS:
        for extra in ([], ["--json"]):
            if args[:3] == ["send", "-a", "texts_plain"] and "--queue" not in args:
                # A proxy's error page that echoes the request, secret and all.
                api.answer_next(502, f"bad gateway for api_secret={quote_plus(NEXMO_SECRET)}")
            code, output = run_in_process(config, args + extra)
            codes[tuple(args + extra)] = code
            produced.append((" ".join(args + extra), output))
    json_lines = 0
    for index, args in enumerate(COMMANDS):
        logging_args = LOGGING[index % 2]
        code, output = run_as_process(config, args, logging_args)
        produced.append((f"process: {' '.join(logging_args + args)}", output))
        if "json" in logging_args:
            json_lines += sum(line.startswith('{"time"') for line in output.splitlines())

    # Deliberate failures, caught: their texts and tracebacks.
    with Engine.from_file(config, environ=ENVIRONMENT) as engine:
        with pytest.raises(PluginError) as no_balance:
            engine.credits("texts_wrong")
        with pytest.raises(SessionError) as refused_login:
            SmtpSession(engine.account("office_wrong").config.transport()).open()
        produced += [(f"exception {kind}", text) for kind, error in (
            ("credits", no_balance.value), ("login", refused_login.value))
            for text in exception_texts(error)]
        # What the configuration shows of itself.
        produced.append(("repr config", repr(engine.config)))
        for name, account in engine.config.accounts.items():
            produced += [(f"repr {name}", repr(account)), (f"str {name}", str(account.config))]
            if account.provider == "smtp":
                produced.append((f"repr {name} transport", repr(account.config.transport())))
        produced += [("validate", repr(engine.validate())),
                     ("diagnosis", repr(engine.test("office_wrong"))),
                     ("diagnosis", repr(engine.test("texts_wrong")))]
    produced += [("database", row) for row in database_rows(config.parent / "postroom.db")]
    produced += [("mail received", r.content.decode()) for r in servers["smtp"].received]
    # The loopback SMTP server's own debug log ("mail.log") shows the AUTH exchange, as any
    # server sees it; everything else logged comes from postroom, plugins and libraries.
    records = [r for r in caplog.records if not r.name.startswith("mail.log")]
    shown = logging.Formatter("%(name)s %(levelname)s %(message)s")  # tracebacks included
    produced += [(f"log {r.name}", shown.format(r)) for r in records]

    # The run did what it was meant to: secrets were used, successes and failures happened.
    assert servers["pop3"].logins and servers["smtp"].logins, "no login at all"
    # The echoing server did quote the AUTH data: there was base64 to leak.
    assert any(leaks(line) for line in servers["echo"].echoed)
    assert any(form["api_key"] == API_KEY and "sig" in form for form in api.sms)
    assert any(form.get("api_secret") == NEXMO_SECRET for form in api.sms)
    assert codes[("test", "office")] == 0 and codes[("test", "office_wrong")] == 1
    assert codes[("test", "texts")] == 0 and codes[("test", "texts_wrong")] == 1
    assert codes[("send", "-a", "office", "--to", "bob@example.org", "--subject", "Hi",
                  "--text", "Hello")] == 0
    assert codes[("credits", "texts_wrong")] == 1
    assert any(r.name.startswith("urllib3") for r in records)
    assert any(r.name.startswith("postroom") for r in records)
    assert json_lines > 10  # the scan saw the JSON logs, not only text
    assert len(produced) > 200

    leaked = {where: leaks(text) for where, text in produced if leaks(text)}
    assert not leaked, leaked


def test_the_scan_finds_each_spelling_of_a_secret():
    # The scan itself must be able to fail: every spelling it looks for is found.
    for secret in SECRETS:
        assert leaks(f"x {secret} y") and leaks(quote_plus(secret))
        assert leaks(base64.b64encode(f"\0{USER}\0{secret}".encode()).decode())
    assert not leaks("Secret(<from env OFFICE_SMTP_PASSWORD>) *** sig=abc")


def test_a_secret_in_a_broken_config_is_not_echoed(tmp_path):
    # A literal secret beside a mistake: the error names the mistake, never the secret.
    config = tmp_path / "postroom.toml"
    config.write_text(f"""
[accounts.office]
provider = "smtp"
host = "mail.example.org"
port = "587"
username = "ann"
password = "{SMTP_PASSWORD}"
sender_email = "ann@example.org"
pasword = "{SMTP_PASSWORD}"
[accounts.texts]
provider = "nexmo"
api_key = "k"
api_secret = {{ secret = "{NEXMO_SECRET}" }}
sender = "Clinic"
""")
    outputs = [run_in_process(config, ["validate", *extra]) for extra in ([], ["--json"])]
    (code, text), (_, data) = outputs
    # Each account waits alone with its problems named; the others would work.
    assert code == 2 and "accounts.office.port" in text and "accounts.texts.api_secret" in text
    named = {f"{row['where']}.{row['field']}" for row in json.loads(data)["problems"]}
    assert {"accounts.office.port", "accounts.texts.api_secret"} <= named
    assert not [leaks(out) for _, out in outputs if leaks(out)]
