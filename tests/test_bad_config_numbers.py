"""Config numbers: every numeric setting has a range, checked when the file is read.

The cases that once passed ``validate`` and broke later (a division by zero
after the message was queued and sent, a worker crashing on every pass, a
lease stored as NULL) are refused at load, naming the setting, with nothing
queued. A hypothesis sweep then puts values of every kind into every numeric
setting of the core and the plugins: each is refused naming its path, or it
works (validate, an estimate, queuing and a worker pass run, and the outbox
holds no NULL where a time belongs).
"""

from __future__ import annotations

import copy
import math
import sqlite3
import tempfile
import typing
from decimal import Decimal
from pathlib import Path
from types import UnionType
from typing import Union

import attrs
import pytest
from hostile import outbox, run, write_config
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from postroom import ConfigError, Engine
from postroom.config import DeliverySettings, ScheduleSettings, StoreSettings, WebSettings
from postroom.mailbox.settings import MailboxSettings
from postroom.plugins import PluginRegistry
from postroom.settings import RANGES
from postroom.templating.settings import TemplateSettings
from postroom_gmail.config import GmailConfig
from postroom_microsoft365.config import Microsoft365Config
from postroom_nexmo.config import NexmoConfig
from postroom_sms_credit.config import SmsCreditConfig
from postroom_smtp.config import Pop3Settings, SmtpConfig

pytestmark = pytest.mark.timeout(300)

bounded = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])

# (TOML section, setting, path the error must name); the worst values seen in the field.
FIELD_CASES = [
    ("[accounts.mail.schedule]", "per_second = 0", "accounts.mail.schedule.per_second"),
    ("[accounts.mail.schedule]", "per_second = -1", "accounts.mail.schedule.per_second"),
    ("[accounts.mail.schedule]", "per_second = nan", "accounts.mail.schedule.per_second"),
    ("[accounts.mail.schedule]", "per_second = inf", "accounts.mail.schedule.per_second"),
    ("[accounts.mail.schedule]", "per_minute = 100000000000000000000",
     "accounts.mail.schedule.per_minute"),
    ("[accounts.mail.schedule]", "stagger = inf", "accounts.mail.schedule.stagger"),
    ("[accounts.mail.schedule]", "min_gap = -5", "accounts.mail.schedule.min_gap"),
    ("[accounts.mail.schedule]", "min_gap = nan", "accounts.mail.schedule.min_gap"),
    ("[accounts.mail.schedule]", "daily_cap = 0", "accounts.mail.schedule.daily_cap"),
    ("[delivery]", "warn_after_days = nan", "delivery.warn_after_days"),
    ("[delivery]", "poll = nan", "delivery.poll"),
    ("[delivery]", "poll = inf", "delivery.poll"),
    ("[delivery]", "lease = nan", "delivery.lease"),
    ("[delivery]", "lease = inf", "delivery.lease"),
    ("[delivery]", "lease = 1e300", "delivery.lease"),
    ("[delivery]", "batch_size = 9223372036854775808", "delivery.batch_size"),
    ("[delivery]", "concurrency = 0", "delivery.concurrency"),
    ("[delivery]", "concurrency = 1000", "delivery.concurrency"),
    ("[templates]", "max_render_seconds = 0", "templates.max_render_seconds"),
]


@pytest.mark.parametrize(("section", "setting", "path"), FIELD_CASES)
def test_a_number_that_would_break_later_is_refused_at_load(tmp_path, section, setting, path):
    (tmp_path / "templates").mkdir()
    extra = ('[templates]\ndirectory = "templates"\n' if section != "[templates]" else "")
    config = write_config(tmp_path, extra, accounts=f"""
[accounts.mail]
provider = "email_file"
[accounts.texts]
provider = "sms_file"
{section}
{'directory = "templates"' if section == "[templates]" else ""}
{setting}
""")
    code, said = run(config, "validate")
    assert code == 2 and f"{path}: expected" in said, said
    code, said = run(config, "send", "-a", "mail", "--queue", "--to", "ann@example.org",
                     "--text", "hello")
    assert code == 2 and f"{path}: expected" in said, said
    assert "Traceback" not in said
    assert outbox(tmp_path) == []  # nothing queued, so nothing for a retry to send twice


def test_an_account_schedule_error_leaves_the_other_accounts_working(tmp_path):
    config = write_config(tmp_path, accounts="""
[accounts.mail]
provider = "email_file"
[accounts.mail.schedule]
per_second = nan
[accounts.texts]
provider = "sms_file"
region = "GB"
""")
    code, said = run(config, "send", "-a", "texts", "--to", "07700 900123", "--text", "hi")
    assert code == 0 and "accepted" in said, said
    code, said = run(config, "worker", "--once")
    assert code == 0, said
    assert [row[2] for row in outbox(tmp_path)] == ["sent"]


# --- every numeric setting, swept -----------------------------------------------------------

BASE = {
    "timezone": "Europe/London",
    "region": "GB",
    "store": {"path": "outbox.db"},
    "delivery": {},
    "web": {},
    "templates": {"directory": "templates"},
    "accounts": {
        "mail": {"provider": "email_file", "sender": "desk@example.org", "schedule": {}},
        "texts": {"provider": "sms_file", "schedule": {}},
        "rounds": {"provider": "sms_file", "path": "outbox/rounds.jsonl",
                   "schedule": {"mode": "scheduled", "at": ["09:00"]}},
        "office": {"provider": "smtp", "host": "mail.example.org", "username": "ann",
                   "password": "pw-long-enough", "sender_email": "ann@example.org",
                   "pop3": {"security": "ssl"}},
        # Switched off, so the worker pass reads no mailbox (a DNS lookup each time).
        "desk": {"provider": "smtp", "host": "mail.example.org", "username": "desk",
                 "password": "pw-long-enough", "sender_email": "desk@example.org",
                 "enabled": False,
                 "mailbox": {"host": "imap.example.org", "username": "desk",
                             "password": "pw-long-enough"}},
        "exchange": {"provider": "microsoft365", "address": "ann@example.org",
                     "oauth2": {"tenant": "example.org", "client_id": "c1",
                                "client_secret": "client-secret-long-enough"}},
        "gmail": {"provider": "gmail", "address": "ann.lee@gmail.com",
                  "app_password": "abcd efgh ijkl mnop"},
        "sms": {"provider": "nexmo", "api_key": "k1", "api_secret": "nexmo-secret",
                "sender": "Clinic"},
        "credit": {"provider": "sms_credit", "token_id": "6A8F1C0D",
                   "token_secret": "t0ken-secret"},
    },
}
DELIVERY = ["batch_size", "max_attempts", "backoff", "backoff_max", "lease", "poll",
            "throttle_pause", "stopped_pause", "once_wait", "warn_after_days",
            "failover_after", "cooldown", "concurrency", "unreachable_pause",
            "unreachable_pause_max"]
SCHEDULE = ["per_second", "burst", "per_minute", "per_hour", "daily_cap", "min_gap", "stagger"]
PATHS = ([("delivery", name) for name in DELIVERY]
         + [("store", "busy_timeout"), ("web", "port"), ("web", "session_minutes")]
         + [("accounts", account, "schedule", name) for account in ("mail", "texts")
            for name in SCHEDULE]
         + [("accounts", "rounds", "schedule", name) for name in (*SCHEDULE, "check_every")]
         + [("templates", "max_sms_segments"), ("templates", "max_render_seconds")]
         + [("accounts", account, key) for account in ("mail", "texts")
            for key in ("max_message_size", "price_per_segment")]
         + [("accounts", "office", key) for key in ("port", "timeout")]
         + [("accounts", "office", "pop3", "port")]
         + [("accounts", "desk", "mailbox", key) for key in ("port", "check_every",
                                                               "max_per_check", "timeout")]
         + [("accounts", "exchange", key) for key in ("port", "max_recipients", "timeout")]
         + [("accounts", "gmail", key) for key in ("port", "max_recipients", "timeout")]
         + [("accounts", "sms", key) for key in ("timeout", "rate_per_second", "connections",
                                                 "low_balance")]
         + [("accounts", "credit", key) for key in ("low_credit_threshold", "max_parts",
                                                    "credits_per_segment", "chunk_size",
                                                    "resubmits", "timeout")])
# Where each settings class sits in BASE: the sweep must reach every number it declares.
SECTIONS = {DeliverySettings: ("delivery",), StoreSettings: ("store",), WebSettings: ("web",),
            TemplateSettings: ("templates",), ScheduleSettings: ("accounts", "rounds", "schedule"),
            MailboxSettings: ("accounts", "desk", "mailbox"), SmtpConfig: ("accounts", "office"),
            Pop3Settings: ("accounts", "office", "pop3"), GmailConfig: ("accounts", "gmail"),
            Microsoft365Config: ("accounts", "exchange"), NexmoConfig: ("accounts", "sms"),
            SmsCreditConfig: ("accounts", "credit")}


def _numeric(hint: object) -> bool:
    """Whether a setting's type is a number (``int``, ``Seconds | None``...), not a flag."""
    kinds = typing.get_args(hint) if typing.get_origin(hint) in (Union, UnionType) else (hint,)
    return any(kind in RANGES or kind in (int, float, Decimal) for kind in kinds)


def test_the_sweep_covers_every_numeric_setting():
    missing = [".".join((*where, name)) for cls, where in SECTIONS.items()
               for name, hint in typing.get_type_hints(cls).items()
               if name in attrs.fields_dict(cls) and _numeric(hint)
               and (*where, name) not in PATHS]
    assert not missing, f"add these settings to PATHS, the numeric sweep: {missing}"


EDGES = [0, -1, 1, 0.5, 1e-300, -0.0, 2**31, 2**63, 10**20, 30 * 86400, 30 * 86400 + 1,
         10**9, 10**9 + 1, math.nan, math.inf, -math.inf]
numbers = st.one_of(st.sampled_from(EDGES), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True, allow_infinity=True))


def _named(issues: list[tuple[str, str]], where: str) -> bool:
    return any(path == where for path, _ in issues)


@bounded
@given(path=st.sampled_from(PATHS), value=numbers)
@example(path=("delivery", "lease"), value=math.nan)
@example(path=("delivery", "poll"), value=math.inf)
@example(path=("accounts", "mail", "schedule", "per_minute"), value=10**20)
@example(path=("accounts", "mail", "schedule", "per_second"), value=0)
@example(path=("accounts", "mail", "schedule", "per_second"), value=1e-300)
@example(path=("accounts", "mail", "schedule", "stagger"), value=30 * 86400)
@example(path=("accounts", "sms", "rate_per_second"), value=math.nan)
@example(path=("accounts", "sms", "connections"), value=10**9)
@example(path=("delivery", "batch_size"), value=10**9)
def test_every_numeric_setting_is_refused_by_path_or_works(path, value):
    data = copy.deepcopy(BASE)
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    where = ".".join(path)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "templates").mkdir()
        try:
            engine = Engine.from_dict(data, base_dir=folder,
                                      registry=PluginRegistry(environ={}), environ={})
        except ConfigError as refused:
            issues = refused.issues
        else:
            issues = None
        if issues is not None:
            assert _named(issues, where), issues
            return
        with engine:
            account = path[1] if path[0] == "accounts" else None
            if account in engine.config.broken:
                assert _named(engine.config.broken[account].problems, where)
                assert any(w == f"accounts.{account}" for w, _ in engine.validate())
                return
            works(engine)


def works(engine: Engine) -> None:
    """Validate, estimate, queue and run a worker pass: none may raise, nothing NULL."""
    engine.validate()
    for name in engine.config.accounts:
        engine.estimate(name, 5)
    engine.send("mail", to="ann@example.org", subject="s", text="queued")
    engine.send("mail", to="bo@example.org", subject="s", text="now", now=True)
    engine.send("texts", to="07700 900123", text="queued")
    engine.send("rounds", to="07700 900123", text="at a check")
    engine.run_worker(once=True, wait=0)
    with sqlite3.connect(engine.config.store.path) as db:
        nulls = db.execute("SELECT COUNT(*) FROM outbox WHERE not_before IS NULL OR "
                           "(state = 'inflight' AND lease_until IS NULL)").fetchone()[0]
        states = {state for (state,) in db.execute("SELECT state FROM outbox")}
    assert nulls == 0
    assert states <= {"queued", "sent"}
