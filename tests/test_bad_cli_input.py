"""CLI input: bad encodings, impossible ages and dates, files that are not config
files, templates that loop forever, and a sweep of every command with hostile values.

Each refusal exits 2 with a sentence naming the option or file, prints no
traceback, and leaves the outbox as it was.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click
import pytest
import uvicorn
from hostile import outbox, run, run_process, write_config

import postroom.commands.webhooks
from postroom import Engine
from postroom.cli import cli

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def config(tmp_path) -> Path:
    templates = tmp_path / "templates"
    for name, text in {"hello/subject.txt": "Hello", "hello/text.txt": "Hi {{ name }}",
                       "hello/sms.txt": "Hi {{ name }}",
                       "loop/subject.txt": "Loop",
                       "loop/text.txt": "{% for a in range(99999) %}{% for b in range(99999) %}"
                                        "{% endfor %}{% endfor %}done",
                       "grow/subject.txt": "Grow",
                       "grow/text.txt": '{% set ns = namespace(s="x") %}{% for i in range(40) %}'
                                        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
                       "pad/subject.txt": "Pad",
                       "pad/text.txt": '{{ "x" | center(999999999) }}'}.items():
        (templates / name).parent.mkdir(parents=True, exist_ok=True)
        (templates / name).write_text(text)
    return write_config(tmp_path, '[templates]\ndirectory = "templates"\n'
                                  "max_render_seconds = 1\n")


# --- encodings ------------------------------------------------------------------------------

def test_an_argument_that_is_not_utf8_is_named_not_a_traceback(config, tmp_path):
    code, said = run_process(tmp_path, "send", "-a", "mail", "--to", "ann@example.org",
                             "--text", b"caf\xe9 au lait")
    assert code == 2 and "Traceback" not in said
    assert "the value of --text is not UTF-8 text (byte 0xe9 at position 3)" in said
    assert outbox(tmp_path) == []


def test_an_argument_with_surrogates_is_refused_in_process_too(config, tmp_path):
    code, said = run(config, "send", "-a", "mail", "--to", "ann@example.org", "--text",
                     os.fsdecode(b"caf\xe9"), "--json")
    assert code == 2 and '"error": "the value of --text is not UTF-8 text' in said
    assert outbox(tmp_path) == []


def test_standard_input_that_is_not_utf8_is_named(config, tmp_path):
    code, said = run_process(tmp_path, "send", "-a", "mail", "--to", "ann@example.org",
                             "--text", "-", stdin=b"caf\xe9\n")
    assert code == 2 and "Traceback" not in said
    assert "text: standard input is not UTF-8 text (byte 0xe9 at offset 3)" in said
    assert outbox(tmp_path) == []


# --- ages and dates -------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "option", "says"), [
    (["log", "--since", "99999999999d"], "--since", "reaches back before 1970"),
    (["log", "--since", "2\u00b2d"], "--since", "expected an ISO date and time"),
    (["log", "--since", "0001-01-01T00:00+14:00"], "--since", "before 1970"),
    (["log", "--since", "10000-01-01"], "--since", "expected an ISO date and time"),
    (["log", "clear", "--before", "99999999999d"], "--before", "before 1970"),
    (["log", "--since", "9" * 5000 + "d"], "--since", "expected an ISO date and time"),
    (["send", "-a", "mail", "--to", "ann@example.org", "--text", "x", "--at",
      "9999-12-31T23:59"], "--at", "more than ten years ahead"),
    (["send", "-a", "mail", "--to", "ann@example.org", "--text", "x", "--at",
      "0001-01-01T00:00"], "--at", "before 1970"),
    (["send", "-a", "mail", "--to", "ann@example.org", "--text", "x", "--at", "tomorrow"],
     "--at", "expected an ISO date and time"),
])
def test_an_impossible_age_or_date_is_a_sentence(config, tmp_path, args, option, says):
    run(config, "send", "-a", "mail", "--to", "ann@example.org", "--text", "logged")
    before = outbox(tmp_path)
    code, said = run(config, *args)
    assert code == 2 and f"{option}: " in said and says in said, said
    assert outbox(tmp_path) == before


@pytest.mark.parametrize("args", [["log", "--limit", "-1"], ["estimate", "mail", "--count", "0"],
                                  ["estimate", "mail", "--count", "10000000000000"]])
def test_a_count_out_of_range_is_a_usage_error(config, args):
    code, said = run(config, *args)
    assert code == 2 and "Invalid value" in said


def test_an_estimate_that_does_not_fit_in_ten_years_is_a_sentence(tmp_path):
    config = write_config(tmp_path, accounts="""
[accounts.mail]
provider = "email_file"
[accounts.mail.schedule]
per_hour = 1
daily_cap = 1
""")
    code, said = run(config, "estimate", "mail", "--count", "1000000")
    assert code == 2 and "1000000 messages do not fit in 3660 days" in said


# --- files that are not a config ------------------------------------------------------------

def test_a_program_as_config_file_is_named_not_decoded(tmp_path):
    program = next(p for p in ("/bin/ls", "/usr/bin/env") if Path(p).exists())
    code, said = run(Path(program), "validate")
    assert code == 2 and f"{program}: not a text file (byte" in said


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_a_special_file_as_config_is_refused_at_once(tmp_path, kind):
    path = {"device": Path("/dev/zero"), "folder": tmp_path, "fifo": tmp_path / "pipe"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    started = time.monotonic()
    code, said = run(path, "validate")
    assert code == 2 and f"{path}: cannot read: it is " in said and "not a regular file" in said
    assert time.monotonic() - started < 10  # no hanging on the pipe, no reading /dev/zero


@pytest.mark.parametrize(("line", "says"), [
    ("x = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ("a" + ".a" * 20000 + " = 1", "more than 1000 dots"),
])
def test_a_config_built_to_exhaust_the_parser_is_refused(tmp_path, line, says):
    config = tmp_path / "postroom.toml"
    config.write_text(line + "\n")
    started = time.monotonic()
    code, said = run(config, "validate")
    assert code == 2 and says in said and str(config) in said
    assert time.monotonic() - started < 20


def test_a_config_file_too_large_to_be_one_is_refused(tmp_path):
    config = tmp_path / "postroom.toml"
    config.write_text("# padding\n" * 200_000)
    code, said = run(config, "validate")
    assert code == 2 and "it is larger than 1 MiB" in said


@pytest.mark.parametrize("target", ["notes.txt", "/dev/null", "pipe", "\x00"])
def test_a_backup_never_replaces_what_is_not_a_backup(tmp_path, target):
    config = write_config(tmp_path)
    (tmp_path / "notes.txt").write_text("keep me")
    os.mkfifo(tmp_path / "pipe")
    path = target if target.startswith("/") else str(tmp_path / target)
    code, said = run(config, "store", "backup", path)
    assert code == 2 and "Traceback" not in said, said
    assert "not an outbox backup" in said or "not a regular file" in said \
        or "cannot take the copy (embedded null byte)" in said
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("args", [["web", "--host", ""], ["web", "--host", "0"],
                                  ["webhooks", "serve", "--host", "\x00"],
                                  ["worker", "--once", "--listen", "x" * 300]])
def test_an_address_to_listen_on_is_checked_before_serving(config, args, nothing_serves):
    code, said = run(config, *args)
    assert code == 2 and f"Invalid value for '{args[-2]}': expected an IP address or host " \
                         "name to listen on, such as 127.0.0.1" in said, said


# --- templates ------------------------------------------------------------------------------

@pytest.mark.parametrize(("template", "says"), [
    ("loop", "rendering took longer than 1 s ([templates] max_render_seconds)"),
    ("grow", "the limit is 1,000,000"),
    ("pad", "center with 999,999,999 would build more than 1,000,000 characters"),
])
def test_a_template_that_would_run_or_grow_without_end_is_stopped(config, tmp_path, template,
                                                                  says):
    started = time.monotonic()
    code, said = run(config, "render", template, "--to", "ann@example.org")
    assert code == 2 and f"{template} (text part)" in said and says in said, said
    code, said = run(config, "send", "-a", "mail", "--template", template, "--to",
                     "ann@example.org")
    assert code == 2 and says in said
    assert time.monotonic() - started < 30
    assert outbox(tmp_path) == []


def test_a_render_budget_leaves_ordinary_templates_alone(config):
    with Engine.from_file(config) as engine:
        for _ in range(200):
            engine.preview("hello", context={"name": "Ann"})


# --- every command, hostile values ----------------------------------------------------------

HOSTILE = ["", " ", "-", "--", "\x00", "\udcff", "é" * 5000, "9" * 400, "-1", "0", "nan", "inf",
           "99999999999d", "0001-01-01T00:00", "9999-12-31T23:59:59", "2026-03-29T01:30",
           "../../etc/passwd", "/dev/zero", "{{ 7 * 7 }}", "a=b", "=", "ann@example.org\r\nBcc: x",
           "07700 900123", "+4", "mail", "texts"]
COMMANDS = [
    ["plugins"], ["validate"], ["test", "{}"], ["test", "mail", "--to", "{}"],
    ["send", "-a", "{}", "--to", "ann@example.org", "--text", "x"],
    ["send", "-a", "mail", "--to", "{}", "--text", "x"],
    ["send", "-a", "mail", "--to", "ann@example.org", "--text", "{}", "--queue"],
    ["send", "-a", "mail", "--to", "ann@example.org", "--subject", "{}", "--text", "x"],
    ["send", "-a", "mail", "--to", "ann@example.org", "--text", "x", "--attach", "{}"],
    ["send", "-a", "mail", "--to", "ann@example.org", "--text", "x", "--at", "{}"],
    ["send", "-a", "mail", "--to", "ann@example.org", "--text", "x", "--key", "{}"],
    ["send", "-a", "texts", "--to", "{}", "--text", "x"],
    ["send", "-a", "mail", "--template", "{}", "--to", "ann@example.org"],
    ["send", "-a", "mail", "--template", "hello", "--to", "ann@example.org", "--var", "{}"],
    ["worker", "--once", "-a", "{}"], ["queue"], ["queue", "cancel", "{}"],
    ["queue", "cancel", "-a", "{}"], ["queue", "retry", "{}"], ["queue", "retry", "-a", "{}"],
    ["queue", "prune", "--before", "{}"],
    ["log", "--since", "{}"], ["log", "-a", "{}"], ["log", "--status", "{}"],
    ["log", "--recipient", "{}"], ["log", "--limit", "{}"], ["log", "clear", "--before", "{}"],
    ["estimate", "{}", "--count", "10"], ["estimate", "mail", "--count", "{}"],
    ["notify", "{}", "--to", "ann@example.org"], ["render", "{}"],
    ["render", "hello", "--to", "{}"], ["render", "hello", "--var", "{}"],
    ["render", "hello", "--locale", "{}"], ["render", "hello", "--timezone", "{}"],
    ["credits", "{}"], ["store"], ["store", "adopt", "{}"], ["store", "backup", "{}"],
    ["store", "upgrade"], ["store", "copy", "--to", "{}"],
    ["store", "copy", "--to", "postgresql://nobody@127.0.0.1:1/none", "--schema", "{}"],
    ["account", "disable", "{}"], ["account", "disable", "mail", "--reason", "{}"],
    ["account", "enable", "{}"], ["account", "reset-counter", "{}"], ["account", "status", "{}"],
    ["queue", "flush", "-a", "{}"], ["health"], ["inbox", "-a", "{}"], ["inbox", "--kind", "{}"],
    ["inbox", "--since", "{}"], ["inbox", "--from", "{}"], ["inbox", "--limit", "{}"],
    ["inbox", "opted-out"], ["mailbox", "check", "{}"], ["mailbox", "test", "{}"],
    ["worker", "--once", "--health-port", "0", "--listen", "{}"],
    ["web", "--host", "{}"], ["web", "--port", "{}"],
    ["webhooks", "serve", "--host", "{}"], ["webhooks", "serve", "--port", "{}"],
]
SERVES = {("web",), ("webhooks", "serve")}
"""Commands that serve until stopped: they get only values refused before serving."""
SERVABLE = {"0", "+4", "nan", "inf", "mail", "texts", "99999999999d"}
"""Hostile values that still name a host or port one can listen on."""


FITTING = {"--host": "127.0.0.1", "--listen": "127.0.0.1", "--kind": "reply"}
"""Values the options checked before the config is read take, for the config path sweep."""


def _command_path(args: list[str]) -> tuple[str, ...]:
    """The command ``args`` run, as the words that name it: ``("queue", "cancel")``."""
    command, path = cli, []
    for arg in args:
        if not isinstance(command, click.Group) or arg not in command.commands:
            break
        command = command.commands[arg]
        path.append(arg)
    return tuple(path)


def _runnable(group: click.Group, prefix: tuple[str, ...] = ()):
    """Every command path under ``group`` that runs code of its own: the commands, and
    the groups that do something when called without a subcommand."""
    for name, command in group.commands.items():
        path = (*prefix, name)
        if not isinstance(command, click.Group) or command.invoke_without_command:
            yield path
        if isinstance(command, click.Group):
            yield from _runnable(command, path)


def test_the_sweep_covers_every_command():
    swept = {_command_path(command) for command in COMMANDS}
    missing = sorted(" ".join(path) for path in _runnable(cli) if path not in swept)
    assert not missing, f"add these commands to COMMANDS, the hostile sweep: {missing}"


@pytest.fixture
def nothing_serves(monkeypatch):
    """Make serving fail the test at once: a hostile value that gets that far must not
    leave the sweep waiting on a server."""
    def served(*args, **kwargs):
        raise AssertionError(f"a hostile value reached serving: {args} {kwargs}")
    monkeypatch.setattr(uvicorn, "run", served)
    monkeypatch.setattr(postroom.commands.webhooks, "webhook_server", served)


def _values(command: list[str], values: list[str]) -> list[str]:
    return [v for v in values if v not in SERVABLE] if _command_path(command) in SERVES \
        else values


def test_no_command_prints_a_traceback_for_any_hostile_value(config, tmp_path, monkeypatch,
                                                            nothing_serves):
    os.mkfifo(tmp_path / "pipe")
    values = [*HOSTILE, str(tmp_path / "pipe"), str(tmp_path)]
    # Relative paths (store backup writes one) land deep under tmp_path, never above it.
    work = tmp_path / "work" / "deeper" / "still"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    seen = 0
    for command in COMMANDS:
        serves = _command_path(command) in SERVES
        for value in _values(command, values):
            args = [value if part == "{}" else part for part in command]
            for extra in ([], ["--json"]):
                code, said = run(config, *args, *extra)  # an exception would fail here
                assert "Traceback" not in said, (args, said)
                assert code in ((2,) if serves else (0, 1, 2)), (args, code, said)
                seen += 1
    assert seen == sum(len(_values(command, values)) * 2 for command in COMMANDS)


@pytest.mark.parametrize("value", ["/dev/zero", "pipe", "folder", "/bin/ls", "missing.toml"])
def test_no_command_prints_a_traceback_for_a_hostile_config_path(tmp_path, value,
                                                                nothing_serves):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "folder").mkdir()
    path = tmp_path / value if not value.startswith("/") else Path(value)
    for command in COMMANDS[1:]:  # all but plugins, which reads no config
        args = [FITTING.get(command[at - 1], "1") if part == "{}" else part
                for at, part in enumerate(command)]
        code, said = run(path, *args)
        assert code == 2 and "Traceback" not in said and str(path) in said, (args, said)
