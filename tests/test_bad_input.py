"""Bad input, generated: every refusal is postroom's own clear error, and the outbox survives it.

Addresses, phone numbers, headers, subjects, template sources, notification
contacts and configuration are drawn by hypothesis. Each input is either
accepted, and then stored so that it reads back the same, or refused with a
``MessageError``, ``TemplateError`` or ``ConfigError`` naming the field, path
or template at fault, and the outbox and delivery log are exactly as before.
Any other exception fails the test.
"""

from __future__ import annotations

import copy
import email
import itertools
import re
import sqlite3
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from postroom import Address, ConfigError, EmailMessage, Engine, MessageError, SmsMessage
from postroom.addresses import phone_number, split_addresses
from postroom.mime import build_mime
from postroom.plugins import PluginRegistry
from postroom.store import payload
from postroom.templating import TemplateError

pytestmark = pytest.mark.timeout(300)

# Deterministic and bounded, so CI sees the same examples every run.
bounded = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])

LINE_BREAKS = ("\r", "\n", "\r\n", "\r\nBcc: eve@example.net")
ODD = ("\t", "\x00", "\u2028", "\x85", "é", "中", "😀", " ", '"', "\\", ",", ";", ":")


def pieces(*words: str) -> st.SearchStrategy[str]:
    """Text put together from meaningful pieces and random characters."""
    piece = st.one_of(st.sampled_from(words + LINE_BREAKS + ODD), st.text(max_size=3))
    return st.lists(piece, max_size=10).map("".join)


address_text = pieces("ann", "example.org", "@", "@@", "<", ">", "Ann Lee ", ".", "..",
                      "[127.0.0.1]", "localhost", "xn--", "b@example.org", "-", "+tag")
number_text = pieces("+", "+44", "07700", "900123", "(201)", "555-0123", "0", "00", "ext",
                     "\u0660\u0661\u0662\u0663", "\uff11\uff12\uff13",  # other digits
                     "tel:", "#", "*", "-", ".", "()")
header_name = st.one_of(st.text(max_size=8),
                        st.sampled_from(["X-Ref", "X-A-1", "X_Ref", "X Ref", "X:Ref", "-", "Ä"]))
header_text = pieces("A-12", "=?utf-8?q?x?=", "é" * 40, "x" * 120)
JINJA = ("{{", "}}", "{%", "%}", "{#", "#}", "{{{", "}}}", " ", "\n", "name", "items",
         "recipient", "recipient.to", "missing", "__class__", "__globals__", "__subclasses__",
         "mro()", "__init__", ".", "|", "(", ")", "[", "]", "'", '"', "=", "*", "**", " 9 ",
         " 3 ", "range(", "if ", "else", "endif", "for x in ", "endfor", "set y = ",
         "macro m()", "endmacro", "m()", "raw", "endraw", "extends ", "include ", "import ",
         '"_partials/hello.txt"', '"../../etc/passwd"', '"missing.txt"', "block b", "endblock",
         "super()", "self", "lipsum(", "cycler", "namespace", "loop.index", "date", "money",
         "phone", "attr(", "format", "%s", "join", "upper", "é")
jinja_text = st.lists(st.sampled_from(JINJA), max_size=24).map("".join)

ACCOUNT_FIELDS = ("to", "cc", "bcc", "reply_to")


# --- the outbox, read from its file -------------------------------------------------------

def outbox_rows(engine: Engine) -> list[tuple]:
    with sqlite3.connect(engine.config.store.path) as db:
        return db.execute("SELECT seq, id, account, payload, recipient, summary, state, "
                          "not_before, attempts, idempotency_key, route FROM outbox "
                          "ORDER BY seq").fetchall()


def log_rows(engine: Engine) -> list[tuple]:
    with sqlite3.connect(engine.config.store.path) as db:
        return db.execute("SELECT * FROM delivery_log ORDER BY seq").fetchall()


def state(engine: Engine) -> tuple:
    return outbox_rows(engine), log_rows(engine), engine.queue()


def queued_or_refused(engine: Engine, call, *errors: type[Exception]):
    """Run ``call`` (a send or notify); return its new outbox rows, or the error it raised.

    A refusal must leave outbox, log and queue counts exactly as they were; an
    acceptance must only add rows, and leave every earlier row as it was.
    """
    before = state(engine)
    try:
        call()
    except errors as exc:
        assert state(engine) == before
        return exc
    rows = outbox_rows(engine)
    assert rows[:len(before[0])] == before[0]
    return rows[len(before[0]):]


@pytest.fixture
def folder(tmp_path) -> Path:
    templates = tmp_path / "templates"
    (templates / "_partials").mkdir(parents=True)
    (templates / "_partials" / "hello.txt").write_text("hello {{ name }}")
    appointment = templates / "appointment"
    appointment.mkdir()
    (appointment / "subject.txt").write_text("Your appointment")
    (appointment / "text.txt").write_text("Dear {{ recipient.name | default('patient') }}")
    # Contacts without a name fail the SMS part: a refusal that must queue nothing.
    (appointment / "sms.txt").write_text("{{ recipient.name }}: see you at {{ time }}")
    return tmp_path


@pytest.fixture
def engine(folder):
    """Email and SMS accounts writing to files, templates and an event; a few messages queued."""
    settings = {
        "store": {"path": "outbox.db"},
        "templates": {"directory": "templates"},
        "events": {"appointment": {"template": "appointment", "channels": ["email", "sms"]}},
        "accounts": {"mail": {"provider": "email_file", "sender": "desk@example.org"},
                     "texts": {"provider": "sms_file", "region": "GB"},
                     "world": {"provider": "sms_file"}},
    }
    with Engine.from_dict(settings, base_dir=folder, environ={}) as made:
        made.send("mail", to="Ann Lee <ann@example.org>", subject="Before", text="queued first")
        made.send("texts", to="07700 900123", text="queued first")
        yield made


# --- addresses, numbers, headers ------------------------------------------------------------

@bounded
@given(field=st.sampled_from(ACCOUNT_FIELDS), value=address_text)
@example(field="to", value="ann@example.org\r\nBcc: eve@example.net")
@example(field="cc", value="Ann <ann@example.org")
@example(field="reply_to", value="Ann Lee <ann@example.org>")
@example(field="to", value='"Lee, Ann" <ann@example.org>, b@example.org;')
def test_an_address_is_queued_normalised_or_refused_naming_its_field(engine, field, value):
    fields = {"to": "bo@example.org", field: value}
    found = queued_or_refused(engine, lambda: engine.send("mail", subject="s", text="t",
                                                          **fields), MessageError)
    if isinstance(found, MessageError):
        assert found.field == field and str(found).startswith(f"{field}: ")
        return
    (row,) = found
    stored = payload.load(row[3])
    assert payload.dump(stored) == row[3]  # reads back as stored
    addresses = getattr(stored, field)
    assert len(addresses) == len(split_addresses(value))  # a list keeps every address
    for address in addresses:
        assert not {"\r", "\n"} & set(str(address))
        assert Address.parse(str(address)) == address  # the written form reads back the same
        assert address.email == Address.parse(address.email).email  # normal form is stable


@bounded
@given(account=st.sampled_from(["texts", "world"]), value=number_text)
@example(account="world", value="07700 900123")  # a local number with no region to read it
@example(account="texts", value="07700 900123\nBcc: x")
@example(account="texts", value="(07700) 900-123")
def test_a_phone_number_is_queued_in_e164_or_refused_naming_to(engine, account, value):
    found = queued_or_refused(engine, lambda: engine.send(account, to=value, text="hi"),
                              MessageError)
    if isinstance(found, MessageError):
        assert found.field == "to" and str(found).startswith("to: ")
        return
    (row,) = found
    assert re.fullmatch(r"\+[1-9]\d{1,14}", row[4]), row[4]


@bounded
@given(value=number_text, region=st.sampled_from([None, "GB", "US", "DE"]))
@example(value="000000", region="DE")
def test_a_normalised_phone_number_reads_back_as_itself(value, region):
    try:
        message = SmsMessage(to=value, text="hi", region=region)
    except MessageError:
        return
    assert phone_number(message.to) == message.to
    assert payload.load(payload.dump(message)) == message


@bounded
@given(name=header_name, value=header_text, subject=header_text)
@example(name="X-Ref", value="A-12\r\nBcc: eve@example.net", subject="fine")
@example(name="X-Ref\r\nBcc", value="A-12", subject="fine")
@example(name="X-Ref", value="A-12", subject="Hi\nBcc: eve@example.net")
@example(name="X-Ref", value="A-12 é", subject="Grüße")
def test_a_header_or_subject_with_a_line_break_never_reaches_the_wire(engine, name, value,
                                                                      subject):
    found = queued_or_refused(
        engine, lambda: engine.send("mail", to="ann@example.org", subject=subject, text="t",
                                    headers={name: value}), MessageError)
    if isinstance(found, MessageError):
        assert found.field in ("subject", "headers", f"headers.{name}")
        assert str(found).startswith(f"{found.field}: ")
        return
    (row,) = found
    stored = payload.load(row[3])
    assert payload.dump(stored) == row[3]
    wire = bytes(build_mime(stored, Address("desk@example.org")))
    head = wire.split(b"\r\n\r\n", 1)[0].decode("ascii")
    # Folded lines continue with blank space; every other line starts a header we wrote.
    names = {line.split(":", 1)[0].lower() for line in head.split("\r\n")
             if not line[:1].isspace()}
    assert names <= {"content-type", "mime-version", "content-transfer-encoding", "from",
                     "to", "subject", "date", "message-id", name.lower()}, head


RESERVED_HEADERS = ("From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "Reply-To",
                    "MIME-Version", "Content-Type", "Content-Transfer-Encoding")


@pytest.mark.parametrize("name", RESERVED_HEADERS)
def test_an_extra_header_never_doubles_one_postroom_writes_nor_shows_bcc(name):
    try:
        message = EmailMessage(to="ann@example.org", cc="cy@example.org",
                               reply_to="desk@example.org", subject="s", text="t",
                               headers={name.lower(): "eve@example.net"})
    except MessageError as refused:
        error = refused
    else:
        wire = email.message_from_bytes(bytes(build_mime(message, Address("d@example.org"))))
        assert len(wire.get_all(name, [])) <= 1 and wire.get_all("Bcc") is None
        return
    assert error.field.startswith("headers")


# --- templates and notifications ------------------------------------------------------------

fresh_names = (f"generated{n}" for n in itertools.count())


@bounded
@given(subject=jinja_text, text=jinja_text, html=st.none() | jinja_text)
@example(subject="{{ name.__class__.__mro__ }}", text="x", html=None)
@example(subject="ok", text="{% for x in range(9 ** 9 ** 9) %}{% endfor %}", html=None)
@example(subject="ok", text='{% include "../../etc/passwd" %}', html=None)
@example(subject="ok", text="{{ missing }}", html="<p>{{ name }}</p>")
@example(subject="Hi {{ name }}", text="{{ items | join(',') }}", html="<p>{{ name }}</p>")
def test_a_template_renders_or_fails_naming_itself_and_the_part(engine, folder, subject, text,
                                                               html):
    template = next(fresh_names)  # a fresh folder each time: the loader caches by file and mtime
    where = folder / "templates" / template
    where.mkdir()
    (where / "subject.txt").write_text(subject)
    (where / "text.txt").write_text(text)
    if html is not None:
        (where / "html.html").write_text(html)
    context = {"name": "Ann", "items": [1, 2]}
    found = queued_or_refused(
        engine, lambda: engine.send("mail", template=template, to="ann@example.org",
                                    context=context), TemplateError)
    if isinstance(found, TemplateError):
        assert str(found).startswith(f"{template} (") and found.part in ("subject", "text",
                                                                         "html")
        return
    (row,) = found
    stored = payload.load(row[3])
    assert "\n" not in stored.subject and "\r" not in stored.subject


@bounded
@given(template=pieces("appointment", "../appointment", "appointment.fr", "_partials", "/",
                       "."))
@example(template="appointment")
@example(template="../appointment")
def test_a_template_name_is_looked_up_or_refused_naming_it(engine, template):
    found = queued_or_refused(
        engine, lambda: engine.send("mail", template=template, to="ann@example.org",
                                    context={"time": "9:30"}), TemplateError)
    if isinstance(found, TemplateError):
        assert found.template == str(template)
    else:
        assert template == "appointment" and len(found) == 1


contacts = st.fixed_dictionaries({}, optional={
    "email": address_text, "phone": number_text, "name": st.text(max_size=6),
    "channels": st.sampled_from(["email", "sms", "both", "fax", ["sms"], "", 5]),
    "locale": st.sampled_from(["fr", "pt-BR", "../etc", "x" * 20, "", None]),
    "timezone": st.sampled_from(["Europe/Paris", "Mars/Base", "../../etc/passwd", "", None]),
    "opted_out": st.booleans(), "events": st.sampled_from([None, [], ["appointment"], 7]),
    "sms_gateway": st.sampled_from([None, "vtext", "nope"]), "id": st.text(max_size=4),
    "shoe_size": st.integers(),
})


@bounded
@given(people=st.lists(st.one_of(contacts, address_text, number_text), min_size=1, max_size=4))
@example(people=[{"email": "ann@example.org", "phone": "07700 900123", "name": "Ann",
                  "channels": "both"}, {"email": "bad@", "channels": "email"}])
@example(people=[{"phone": "07700 900123", "channels": "sms"}])  # no name for the SMS part
@example(people=[{"email": "ann@example.org", "shoe_size": 9}])
def test_notify_queues_everyone_it_can_reach_or_nothing_at_all(engine, people):
    log_before = log_rows(engine)
    done = []
    found = queued_or_refused(
        engine, lambda: done.append(engine.notify("appointment", people, {"time": "9:30"})),
        MessageError, TemplateError)
    if isinstance(found, TemplateError):
        assert found.template == "appointment" and found.part == "sms"
        return
    if isinstance(found, MessageError):
        assert found.field and str(found).startswith(f"{found.field}: ")
        return
    (notified,) = done
    assert [row[1] for row in found] == [mid for _, _, mid in notified.queued]
    # Everyone not reached is in the log with the reason, nobody else is.
    added = log_rows(engine)[len(log_before):]
    assert sum(row[7] == "skipped" for row in added) == len(notified.skipped)


# --- configuration --------------------------------------------------------------------------

BASE_CONFIG = {
    "region": "GB",
    "timezone": "Europe/London",
    "store": {"path": "outbox.db", "log": True, "durability": "full"},
    "delivery": {"batch_size": 10, "max_attempts": 3, "backoff": 1, "lease": 30},
    "templates": {"directory": "templates", "timezone": "UTC", "max_sms_segments": 2},
    "accounts": {
        "mail": {"provider": "email_file", "sender": "desk@example.org",
                 "schedule": {"per_minute": 10, "daily_cap": 100,
                              "windows": [{"days": "mon-fri", "start": "08:00",
                                           "end": "17:00"}]}},
        "texts": {"provider": "sms_file", "region": "IE", "price_per_segment": "0.04"},
        "office": {"provider": "smtp", "host": "mail.example.org", "port": 587,
                   "username": "ann", "password": {"env": "OFFICE_PASSWORD"},
                   "sender_email": "ann@example.org", "timeout": 5,
                   "pop3": {"security": "ssl", "password": {"file": "pop3.secret"}}},
        "sms": {"provider": "nexmo", "api_key": "k1", "api_secret": {"env": "NEXMO_SECRET"},
                "sender": "Clinic", "signature_secret": "s2", "signature_method": "sha256",
                "rate_per_second": 30, "low_balance": 1.5},
    },
    "channels": {"email": ["mail", "office"], "sms": ["texts", "sms"]},
    "events": {"appointment": {"template": "appointment", "channels": ["email", "sms"]}},
    "recurring": {"report": {"account": "mail", "days": "mon", "at": "07:00",
                             "to": ["head@example.org"], "subject": "Report", "text": "..."}},
    "gateways": {"vtext": "vtext.com"},
}
ENVIRON = {"OFFICE_PASSWORD": "pw", "NEXMO_SECRET": "nx"}


def setting_paths(node: object, prefix: tuple = ()):
    if prefix:
        yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list) else ()
    for key, value in items:
        yield from setting_paths(value, (*prefix, key))


# The account list as a whole is left out: emptying it breaks the references to
# accounts elsewhere.
TARGETS = [p for p in setting_paths(BASE_CONFIG) if p != ("accounts",)]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
                    st.text(max_size=6),
                    st.sampled_from(["", "mon-fri", "25:00", "Europe/Nowhere", "../x", "email",
                                     "sms", "x@", "smtp", "nexmo", "GB", "-1", "nan"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=5), inner, max_size=3), max_leaves=6)


def dotted(path: str) -> str:
    """``recurring['report'].to[0]`` as ``recurring.report.to.0``: one spelling to compare."""
    return re.sub(r"\[(\d+)\]", r".\1", re.sub(r"\['([^']*)'\]", r".\1", path))


@pytest.fixture
def registry():
    return PluginRegistry(environ={})


@bounded
@given(target=st.sampled_from(TARGETS), value=values, new_key=st.booleans())
@example(target=("delivery", "batch_size"), value="10", new_key=False)
@example(target=("accounts", "office", "port"), value=70000, new_key=False)
@example(target=("accounts", "sms", "sender"), value="Riverside Clinic", new_key=False)
@example(target=("recurring", "report", "at"), value="7 o'clock", new_key=False)
@example(target=("accounts", "mail", "schedule"), value=None, new_key=True)
def test_a_bad_setting_is_refused_with_its_path(folder, registry, target, value, new_key):
    (folder / "pop3.secret").write_text("pop\n")
    data = copy.deepcopy(BASE_CONFIG)
    *parents, key = target
    node = data
    for step in parents:
        node = node[step]
    if new_key and isinstance(node, dict):
        key = "unknown_key"  # a setting nobody reads
    node[key] = value
    try:
        Engine.from_dict(data, base_dir=folder, registry=registry, environ=ENVIRON)
    except ConfigError as exc:
        issues = exc.issues
    else:
        return
    where = ".".join(map(str, (*parents, key)))
    account = ".".join(map(str, parents[:2]))
    on_branch = [p for p, _ in issues if dotted(p).startswith(where) or (
        # A table or list replaced by something else is named as a whole.
        where.startswith(dotted(p) + ".") and p) or (
        # Another provider wants other settings of that account.
        key == "provider" and dotted(p).startswith(account + "."))]
    assert on_branch, (where, issues)


@pytest.mark.parametrize("store", [5, ["outbox.db"], "outbox.db"])
def test_a_store_setting_that_is_not_a_table_is_refused_naming_it(folder, registry, store):
    (folder / "pop3.secret").write_text("pop\n")
    with pytest.raises(ConfigError) as refused:
        Engine.from_dict({**BASE_CONFIG, "store": store}, base_dir=folder, registry=registry,
                         environ=ENVIRON)
    assert [path for path, _ in refused.value.issues] == ["store"]


TOML = """\
region = "GB"
[store]
path = "outbox.db"
durability = "full"
[delivery]
batch_size = 10
backoff = 1.5
[templates]
directory = "templates"
[accounts.mail]
provider = "email_file"
sender = "desk@example.org"
[accounts.mail.schedule]
windows = [{ days = "mon-fri", start = "08:00", end = "17:00" }]
[accounts.office]
provider = "smtp"
host = "mail.example.org"
password = { env = "OFFICE_PASSWORD" }
sender_email = "ann@example.org"
[channels]
email = ["mail", "office"]
"""
VALUE_LINES = [n for n, line in enumerate(TOML.splitlines()) if " = " in line]
toml_values = st.lists(st.sampled_from(
    ['"', "'", "[", "]", "{", "}", "=", ",", "#", "\\", "\n", " ", "1", "-1", "0x1F", "1e9",
     "inf", "nan", "true", "x", '"x"', '"""', "{ env = \"NOPE\" }", "{ file = \"../nope\" }",
     "[\"mail\"]", "2026-03-04T09:00:00", "08:00", "é"]), max_size=6).map("".join)


@bounded
@given(line=st.sampled_from(VALUE_LINES), value=toml_values)
@example(line=VALUE_LINES[0], value='"GB')
def test_a_config_file_edited_badly_is_refused_with_a_path_or_line(folder, registry, line,
                                                                    value):
    lines = TOML.splitlines()
    key = lines[line].split(" = ", 1)[0]
    lines[line] = f"{key} = {value}"
    path = folder / "postroom.toml"
    path.write_text("\n".join(lines) + "\n")
    try:
        Engine.from_file(path, registry=registry, environ=ENVIRON)
    except ConfigError as exc:
        refused = exc
    else:
        return
    try:
        tomllib.loads(path.read_text())
        syntax = None
    except tomllib.TOMLDecodeError as exc:
        syntax = str(exc)
    if syntax is not None:
        # The file is named, and where in it the parser stopped.
        assert refused.issues == [(str(path), f"not valid TOML: {syntax}")]
    else:
        assert all(p for p, _ in refused.issues), refused.issues
