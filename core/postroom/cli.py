"""The ``postroom`` command: operators' view of the same engine apps use.

Every command takes ``--json`` for scripts. Exit codes: 0 all went well,
1 the check or send failed (or the outbox could not be used), 2 a usage or
configuration error. Input is checked before it is used: arguments and
standard input must be UTF-8 text, dates and ages must land between 1970 and
ten years ahead, and an outbox database that cannot be used is a sentence,
never a traceback.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import logging
import re
import sys
import threading
import uuid
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path

import attrs
import click

from postroom.addresses import split_addresses
from postroom.commands.progress import batch_data, batch_line, batch_lines, watch
from postroom.config import CONFIG_VARIABLE
from postroom.engine import Changed, Engine
from postroom.errors import (
    ConfigError,
    MessageError,
    PostroomError,
    StoreError,
    StoreUnavailable,
    amount,
)
from postroom.files import size_text
from postroom.logs import configure_logging, event
from postroom.messages import Attachment
from postroom.plugins import PluginRegistry
from postroom.probes import ProbeServer
from postroom.results import Diagnosis, Outcome
from postroom.scheduling import Estimate, localize
from postroom.settings import MAX_LANES
from postroom.store import LogEntry
from postroom.templating import Recipient, TemplateError, parse_vars
from postroom.worker import WorkerReport, stop_on_signals
from postroom.worker.events import Watcher

EXIT_FAILED = 1
EXIT_USAGE = 2
logger = logging.getLogger("postroom.cli")
MAX_AHEAD = timedelta(days=3653)
"""How far ahead --at may be (ten years): further is a typo in the year."""
AGE = re.compile(r"([0-9]{1,12})([mhd])")
AGE_UNITS = {"m": 60, "h": 3600, "d": 86400}
HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _plain(value):
    """Make results JSON-ready: attrs classes, enums, decimals, paths."""
    if attrs.has(type(value)):
        return {k: _plain(v) for k, v in attrs.asdict(value, recurse=False).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal | Path):
        return str(value)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return value


def printable(text: str) -> str:
    """``text`` safe to print: bytes that were not UTF-8 (lone surrogates, such as a
    file name's) are shown as ``\\udcxx`` instead of failing the output."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def emit(as_json: bool, data, text: str) -> None:
    click.echo(printable(json.dumps(_plain(data), indent=2, ensure_ascii=False) if as_json
                         else text))


def fail(message: str, code: int = EXIT_USAGE, as_json: bool = False):
    if as_json:
        click.echo(printable(json.dumps({"error": message}, ensure_ascii=False)))
    else:
        click.echo(printable(f"error: {message}"), err=True)
    sys.exit(code)


def warn(message: str) -> None:
    """A warning on standard error, out of the way of --json output."""
    click.echo(printable(f"warning: {message}"), err=True)


def listen_address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: ``value`` is an IP address or a host name to listen on. Checked
    before anything binds, as a NUL or an overlong name fails deep in the socket call and
    an empty one would mean every interface."""
    if value is None:
        return None
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        labels = value.split(".")
    if len(value) <= 253 and all(HOST_LABEL.fullmatch(label) for label in labels) \
            and not labels[-1].isdigit():  # all digits is an IPv4 address mistyped
        return value
    shown = value if len(value) <= 40 else value[:40] + "..."
    raise click.BadParameter(printable(
        f"expected an IP address or host name to listen on, such as 127.0.0.1 (this "
        f"machine only) or 0.0.0.0 (every interface), got {shown!r}"))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
batch_option = click.option("--batch", metavar="ID",
                            help="The batch id to give the messages (default: a new one when "
                                 "there are several).")


class Context:
    """What the group's options chose: the config file (or ``make_engine`` when a host
    such as Django's ``manage.py postroom`` supplies its own engine) and how to log."""

    def __init__(self, config_path: str | None,
                 make_engine: Callable[[], Engine] | None = None, log_level: str | None = None,
                 log_format: str | None = None) -> None:
        self.config_path = config_path
        self.make_engine = make_engine
        self.log_level = log_level
        self.log_format = log_format
        self.as_json = False

    def engine(self, as_json: bool, default_level: str = "warning") -> Engine:
        """The engine on the config; logging set up from the options, then ``[logging]``."""
        self.as_json = as_json  # for errors raised later, as from the outbox database
        try:
            if self.make_engine is not None and self.config_path is None:
                engine = self.make_engine()
            else:
                engine = Engine.from_file(self.config_path)
                # Closed with the command, also when it stops half way: a process that
                # runs many commands (an app, a test) keeps no file or connection open.
                command = click.get_current_context(silent=True)
                if command is not None:
                    command.call_on_close(engine.close)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE, as_json)
        configure_logging(engine.config.logging, level=self.log_level, format=self.log_format,
                          default_level=default_level)
        return engine


pass_context = click.make_pass_decorator(Context)


def _not_text(args: list[str]) -> str | None:
    """What is wrong with the first argument that is not UTF-8 text, if one is not."""
    for index, arg in enumerate(args):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as exc:
            raw = arg.encode("utf-8", "surrogateescape")
            where = len(arg[:exc.start].encode("utf-8"))
            before = args[index - 1] if index and args[index - 1].startswith("-") else None
            named = f"the value of {before}" if before else f"argument {index + 1}"
            return (f"{printable(named)} is not UTF-8 text (byte {raw[where]:#04x} at "
                    f"position {where}); postroom reads arguments as UTF-8")
    return None


class Commands(click.Group):
    """The postroom command group: arguments are checked to be text before anything
    runs, and an outbox database that cannot be used ends the command with a sentence."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        problem = _not_text(args)
        if problem:
            fail(problem, EXIT_USAGE, "--json" in args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (StoreError, StoreUnavailable) as exc:
            usage = isinstance(exc, StoreError) and exc.usage
            fail(str(exc), EXIT_USAGE if usage else EXIT_FAILED,
                 isinstance(ctx.obj, Context) and ctx.obj.as_json)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar=CONFIG_VARIABLE,
              help=f"Config file (default: ${CONFIG_VARIABLE} or ./postroom.toml).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              help="What to log to standard error (default: [logging] level, else info for "
                   "the worker and warning for the rest).")
@click.option("--log-format", type=click.Choice(["text", "json"]),
              help="Log lines as text or as one JSON object each (default: [logging] "
                   "format, else text).")
@click.version_option(package_name="postroom")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str | None,
        log_format: str | None) -> None:
    """Send email and SMS through the accounts in postroom.toml."""
    host = ctx.obj.make_engine if isinstance(ctx.obj, Context) else None
    if host is not None and ctx.get_parameter_source("config_path") is not \
            click.core.ParameterSource.COMMANDLINE:
        config_path = None  # the host's configuration, unless --config says otherwise
    ctx.obj = Context(config_path, host, log_level, log_format)
    configure_logging(level=log_level, format=log_format)


@cli.command()
@json_option
def plugins(as_json: bool) -> None:
    """List provider plugins: built-in, installed, broken or disabled."""
    infos = PluginRegistry().plugins()
    # The same fields --json gives: providers, name (the plugin's module), distribution.
    lines = [f"{'providers':<14} {'name':<22} {'distribution':<28} status"]
    for info in infos:
        where = "built-in" if info.builtin else f"{info.distribution} {info.version}"
        lines.append(f"{', '.join(info.providers):<14} {info.name:<22} {where:<28} "
                     f"{info.status}")
        if info.error:
            lines.append(f"{'':<14} {info.error}")
        elif info.hooks:
            hooks = ", ".join(h.removeprefix("postroom_") for h in info.hooks)
            lines.append(f"{'':<14} hooks: {hooks}")
    emit(as_json, infos, "\n".join(lines))
    if any(info.status in ("broken", "conflict") for info in infos):
        sys.exit(EXIT_FAILED)


@cli.command()
@json_option
@pass_context
def validate(obj: Context, as_json: bool) -> None:
    """Check the configuration offline and report every problem found."""
    engine = obj.engine(as_json)
    found = engine.validate()
    rows = [{"where": where, **_plain(problem)} for where, problem in found]
    lines = [f"{p.severity}: {'.'.join(filter(None, (where, p.field)))}: {p.message}"
             + (f"\n  hint: {p.hint}" if p.hint else "") for where, p in found]
    names = [*engine.config.accounts, *engine.config.broken]
    lines.append(f"{len(names)} account{'s' * (len(names) != 1)} checked, "
                 f"{sum(p.severity == 'error' for _, p in found)} errors, "
                 f"{sum(p.severity == 'warning' for _, p in found)} warnings")
    emit(as_json, {"accounts": names, "broken": list(engine.config.broken), "problems": rows},
         "\n".join(lines))
    # Settings that cannot even be read are a configuration error; the rest failed checks.
    if engine.config.broken:
        sys.exit(EXIT_USAGE)
    if any(p.severity == "error" for _, p in found):
        sys.exit(EXIT_FAILED)


def each_recipient(values: tuple[str, ...]) -> list[str]:
    """The recipients of repeated --to options, each of which may list several
    (``a@example.org, b@example.org``): every one of them, none dropped. A
    blank value stays, for the message check to refuse with its field."""
    return [entry for value in values for entry in (split_addresses(value) or [value])]


@cli.command()
@click.argument("account")
@click.option("--to", "target", metavar="ADDRESS",
              help="Send a test message here; without it, nothing is sent.")
@json_option
@pass_context
def test(obj: Context, account: str, target: str | None, as_json: bool) -> None:
    """Check live that ACCOUNT can connect and log in; with --to, send a test message."""
    engine = obj.engine(as_json)
    warn_transport(engine, [account])
    try:
        diagnosis = engine.test(account, target)
    except (ConfigError, MessageError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    report_diagnosis(account, diagnosis, as_json)


def report_diagnosis(account: str, diagnosis: Diagnosis, as_json: bool) -> None:
    """Show a live check's answer, its facts included; exit 1 if it failed."""
    if diagnosis.ok:
        text = f"{account}: OK ({diagnosis.stage}) - {diagnosis.detail}"
    else:
        text = (f"{account}: FAILED at {diagnosis.stage} [{diagnosis.category}]\n"
                f"  what happened: {diagnosis.detail}\n  what to do:    {diagnosis.hint}")
    text += "".join(f"\n  {key}: {value}" for key, value in diagnosis.facts.items())
    emit(as_json, {"account": account, **_plain(diagnosis)}, text)
    if not diagnosis.ok:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("-a", "--account", required=True, help="Account to send through.")
@click.option("--to", multiple=True, required=True,
              help="Recipient (repeat for several, or separate them with commas).")
@click.option("--subject", default="", help="Email subject.")
@click.option("--text", help="Text body; '-' reads it from standard input.")
@click.option("--html", help="HTML body (email only).")
@click.option("--cc", multiple=True, help="Copy to (email only).")
@click.option("--bcc", multiple=True, help="Blind copy to (email only).")
@click.option("--reply-to", multiple=True, help="Reply-To address (email only).")
@click.option("--attach", multiple=True, metavar="FILE",
              help="File to attach (email only; repeat for several; at most the account's "
                   "max_message_size).")
@click.option("--template", help="Render this template for each --to (with --var values).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="A template value (repeat for several).")
@click.option("--at", "send_at", metavar="TIME", help="Send later: an ISO date and time.")
@click.option("--queue", "queue_only", is_flag=True,
              help="Only queue, within the account's schedule; a worker sends it.")
@click.option("--key", "idempotency_key", help="Idempotency key: a repeat with it is a no-op.")
@batch_option
@json_option
@pass_context
def send(obj: Context, account: str, to: tuple[str, ...], subject: str, text: str | None,
         html: str | None, cc, bcc, reply_to, attach, template, variables, send_at, queue_only,
         idempotency_key, batch: str | None, as_json: bool) -> None:
    """Send a message through ACCOUNT: queue it durably, then deliver it now.

    Like a "Send" button it skips the stagger delay and send windows, but not
    the provider's limits; with --queue or --at it waits for the schedule.
    """
    engine = obj.engine(as_json)
    warn_transport(engine, [account])
    try:
        chosen = engine.account(account)
        if text == "-":
            text = read_stdin(chosen.max_message_size * (4 if chosen.channel == "sms" else 1))
        when = (parse_time(send_at, "--at", engine, zone=chosen.schedule.timezone)
                if send_at else None)
        manual = not (queue_only or when)
        options = {"send_at": when, "now": manual, "idempotency_key": idempotency_key,
                   "batch": batch}
        if template:
            ids = engine.send(account, template=template, recipients=each_recipient(to),
                              context=parse_vars(variables), **options)
        elif engine.account(account).channel == "sms":
            if subject or html or cc or bcc or reply_to or attach:
                raise MessageError("options", f"{account!r} is an SMS account: only --to and "
                                              "--text apply")
            ids = engine.send(account, *[engine.message(account, to=number, text=text or "")
                                         for number in each_recipient(to)], **options)
        else:
            files = [Attachment.from_path(p, max_bytes=chosen.max_message_size)
                     for p in attach]
            ids = engine.send(account, to=list(to), subject=subject, text=text, html=html,
                              cc=list(cc), bcc=list(bcc), reply_to=list(reply_to),
                              attachments=files, **options)
    except (ConfigError, MessageError, TemplateError, StoreError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except PostroomError as exc:  # refused before queuing: not enough credit
        fail(str(exc), EXIT_FAILED, as_json)
    if manual:  # its own messages, within the limits; the backlog is the workers'
        engine.run_worker(once=True, accounts=[account], wait=0, messages=ids)
    rows, lines = [], []
    for message_id in ids:
        entries = engine.log(message_id=message_id, limit=1)
        if entries:
            entry = entries[0]
            rows.append({"id": message_id, **_plain(entry)})
            lines.append(f"{entry.outcome}: {entry.recipient} (id {message_id})"
                         + (f" {entry.code or ''} {entry.text}" if entry.outcome != "accepted"
                            else f" provider id {entry.provider_id}" if entry.provider_id
                            else "")
                         + "".join(f"\n  {k}: {v}" for k, v in entry.info.items()))
        else:
            rows.append({"id": message_id, "outcome": "queued"})
            lines.append(f"queued: id {message_id}")
        if ids.batch:
            rows[-1]["batch"] = ids.batch
    if ids.batch:
        lines.append(f"batch {ids.batch}: follow it with `postroom queue --batch {ids.batch}`")
    (found,) = engine.status(account)
    if found.why_held and any(row["outcome"] == "queued" for row in rows):
        lines.append(f"held: {found.why_held}")
    if len(ids) > 1 or not manual:
        try:
            lines.append(describe_estimate(account, engine.estimate(account, len(ids)), engine))
        except ConfigError as exc:  # queued all the same: no session or window is left
            lines.append(f"warning: {exc}")
    emit(as_json, rows, "\n".join(lines))
    if any(row["outcome"] not in ("accepted", "queued") for row in rows):
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("-a", "--account", "--accounts", "accounts", multiple=True, metavar="A[,B]",
              help="Only these accounts: this machine sends these accounts (repeat, or "
                   "separate with commas).")
@click.option("--health-port", type=click.IntRange(0, 65535), metavar="PORT",
              help="Serve GET /health (200, or 503 when something needs a person) and "
                   "/live (this worker's heartbeat) as JSON on this port.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), metavar="PORT",
              help='Serve Prometheus metrics on this port (pip install "postroom[metrics]").')
@click.option("--listen", default="127.0.0.1", show_default=True, metavar="ADDRESS",
              callback=listen_address,
              help="The address those ports listen on (0.0.0.0: every interface).")
@click.option("--concurrency", type=click.IntRange(1, MAX_LANES), metavar="N",
              help="Send N batches at once, each on its own connection (default: [delivery] "
                   "concurrency, 1).")
@json_option
@pass_context
def worker(obj: Context, once: bool, accounts: tuple[str, ...], health_port: int | None,
           metrics_port: int | None, listen: str, concurrency: int | None,
           as_json: bool) -> None:
    """Send queued messages within each account's schedule until stopped.

    SIGTERM or Ctrl-C finishes the message in hand, then stops. With --once it
    exits 1 when messages failed for good or were left unsent. Each try, batch
    and pause is logged (info), with the progress of each bulk send.
    """
    accounts = tuple(name.strip() for given in accounts for name in given.split(",")
                     if name.strip())
    engine = obj.engine(as_json, default_level="info")
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        for name in accounts:
            engine.account(name)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    warn_transport(engine, accounts or None)
    waiting = 0  # counted only for the progress bar of a --once run on a terminal
    if once and not as_json and sys.stdout.isatty():
        waiting = sum(row.waiting + row.in_flight for row in engine.queue()
                      if not accounts or row.account in accounts)
    worker_id = f"worker-{uuid.uuid4().hex[:12]}"
    with ExitStack() as serving, click.progressbar(
            length=waiting, label="sending", show_pos=True) if waiting else nullcontext() as bar:
        watchers = serve_probes(engine, worker_id, listen, health_port, metrics_port, serving,
                                as_json)
        done = [0]

        def progress(report: WorkerReport) -> None:
            if bar is not None:
                bar.update(report.finished - done[0])
                done[0] = report.finished

        report = engine.run_worker(once=once, accounts=accounts or None, stop=stop,
                                   progress=progress, watchers=watchers, worker_id=worker_id,
                                   concurrency=concurrency)
    skipped = f", skipped {report.skipped} (opted out)" if report.skipped else ""
    emit(as_json, report, f"sent {report.sent}, dead {report.dead}{skipped}, left {report.left} "
                          f"(in {report.batches} batches)")
    if once and (report.dead or report.left):
        sys.exit(EXIT_FAILED)


def serve_probes(engine: Engine, worker_id: str, host: str, health_port: int | None,
                 metrics_port: int | None, serving: ExitStack, as_json: bool) -> list[Watcher]:
    """Start the worker's health and metrics servers (closed with ``serving``); the
    watchers the worker must feed."""
    watchers: list[Watcher] = []
    try:
        if metrics_port is not None:
            try:
                from postroom.metrics import MetricsServer
            except ImportError as exc:
                fail(f"--metrics-port needs the metrics extra ({exc.name} is missing): "
                     'pip install "postroom[metrics]"', EXIT_USAGE, as_json)
            metrics = MetricsServer(engine.config, engine.store, engine.clock, host,
                                    metrics_port)
            serving.callback(metrics.close)
            watchers.append(metrics.watcher)
            event(logger, logging.INFO, "listening", f"metrics on http://{host}:{metrics.port}/"
                  "metrics", what="metrics", host=host, port=metrics.port)
        if health_port is not None:
            probes = ProbeServer(host, health_port, engine.health,
                                 lambda: worker_alive(engine, worker_id))
            serving.callback(probes.close)
            event(logger, logging.INFO, "listening", f"health on http://{host}:{probes.port}/"
                  "health and /live", what="health", host=host, port=probes.port)
    except OSError as exc:
        fail(f"cannot listen on {host}: {exc.strerror}: choose another port or address "
             "(--health-port, --metrics-port, --listen)", EXIT_USAGE, as_json)
    return watchers


def worker_alive(engine: Engine, worker_id: str) -> bool:
    """Whether this worker's heartbeat is in the store and fresh."""
    now = engine.clock()
    return any(w.id == worker_id and now - w.seen <= engine.config.health.stale_after
               for w in engine.store.workers())


@cli.group(invoke_without_command=True)
@click.option("--batch", metavar="ID", help="Only this bulk send: sent, failed, waiting, and "
                                            "when the last is expected to go.")
@click.option("--watch", "watching", is_flag=True,
              help="Show it again every --interval seconds, in place on a terminal, until "
                   "Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between two looks with --watch.")
@json_option
@click.pass_context
def queue(ctx: click.Context, batch: str | None, watching: bool, interval: float,
          as_json: bool) -> None:
    """Show what is waiting, scheduled, in flight, dead and cancelled, per account,
    and the bulk sends in progress."""
    if ctx.invoked_subcommand:
        return
    engine = ctx.find_object(Context).engine(as_json)

    def show() -> tuple[object, str]:
        return batch_view(engine, batch, as_json) if batch else queue_view(engine)

    if watching:
        watch(lambda: _shown(show), interval, as_json, lambda: _when(engine.clock(), engine))
        return
    data, text = show()
    emit(as_json, data, text)


def _shown(show: Callable[[], tuple[object, str]]) -> tuple[object, str]:
    data, text = show()
    return _plain(data), text


def batch_view(engine: Engine, batch: str, as_json: bool) -> tuple[object, str]:
    """One bulk send's progress, or exit 2 for a batch id the outbox does not have."""
    found = engine.batch(batch)
    if found is None:
        fail(f"no batch {batch!r} in the outbox: `postroom queue` lists the batches in "
             "progress, and `postroom send` prints the id of each bulk send", EXIT_USAGE,
             as_json)
    when = words_of_times(engine)
    return batch_data(found, when), "\n".join(batch_lines(found, when))


def queue_view(engine: Engine) -> tuple[object, str]:
    """Every account's counts, pauses, dead messages and the bulk sends in progress."""
    rows = engine.queue()
    pauses = engine.store.pauses(engine.clock())
    status = {found.account: found for found in engine.status()}
    lines = [f"{'account':<16}{'waiting':>9}{'later':>9}{'sending':>9}{'dead':>7}"
             f"{'cancelled':>11}{'sent today':>12}  next"]
    for row in rows:
        nxt = _when(row.next_due, engine) if row.next_due else "-"
        found = status.get(row.account)
        sent = found.sent_today.short if found else str(row.sent)
        lines.append(f"{row.account:<16}{row.waiting:>9}{row.scheduled:>9}{row.in_flight:>9}"
                     f"{row.dead:>7}{row.cancelled:>11}{sent:>12}  {nxt}")
        if found is not None:
            lines.extend(status_lines(found, engine)[1:])
            if found.sent_today.reset:
                lines.append(f"  sent today counted {found.sent_today.text}")
        elif row.account in pauses:  # an account no longer configured
            pause = pauses[row.account]
            lines.append(f"  paused until {_when(pause.until, engine)}: {pause.reason}")
        if row.account in engine.config.broken:
            lines.append(f"  cannot send until its settings are fixed: "
                         f"{engine.config.broken[row.account].error()}")
    dead = engine.store.dead()
    lines.extend(f"  dead {mid} ({account}): {error}" for mid, account, error in dead[-20:])
    when = words_of_times(engine)
    batches = engine.batches()
    if batches:
        lines.append("bulk sends in progress (postroom queue --batch ID for one):")
        lines += [batch_line(found, when) for found in batches]
    data = {"accounts": rows, "paused": list(pauses.values()),
            "status": list(status.values()),
            "dead": [{"id": m, "account": a, "error": e} for m, a, e in dead],
            "batches": [batch_data(found, when) for found in batches]}
    return data, "\n".join(lines) if rows else "the outbox is empty"

def with_group_json(as_json: bool) -> bool:
    """A subcommand's ``--json``, or its group's: ``postroom queue --json cancel``."""
    parent = click.get_current_context().parent
    return as_json or bool(parent is not None and parent.params.get("as_json"))


@queue.command("cancel")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("-a", "--account", help="Cancel everything queued for this account "
                                      "(with IDs: only those of this account).")
@click.option("--batch", metavar="ID", help="Cancel every queued message of this bulk send "
                                            "(with -a: only that account's).")
@click.option("--reason", default="", metavar="TEXT", help="Why, for the delivery log.")
@json_option
@pass_context
def queue_cancel(obj: Context, ids: tuple[str, ...], account: str | None, batch: str | None,
                 reason: str, as_json: bool) -> None:
    """Cancel queued messages, by ID, for a whole account or a whole bulk send
    (--batch), so no worker sends them.

    A message a worker is sending right now is left, and shown with why. One
    whose worker's lease ran out is cancelled with a warning that the worker,
    if still running, may have sent it; the exit code is then 1.
    """
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    if batch is not None:
        if ids:
            fail("give message ids or --batch, not both", EXIT_USAGE, as_json)
        batch_view(engine, batch, as_json)  # exits 2 for a batch the outbox does not have
    try:
        changed = engine.cancel(ids, account=account, reason=reason, batch=batch)
    except (ConfigError, MessageError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    nothing = (f"nothing queued in batch {batch} to cancel" if batch
               else f"nothing queued for {account} to cancel")
    report_change(changed, "cancelled", nothing, as_json)


@queue.command("retry")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("-a", "--account", help="Retry every dead message of this account "
                                      "(with IDs: only those of this account).")
@json_option
@pass_context
def queue_retry(obj: Context, ids: tuple[str, ...], account: str | None, as_json: bool) -> None:
    """Put dead messages back in the queue, due now, tries counted from zero.

    For after the cause is fixed, such as an account's credentials.
    """
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    try:
        changed = engine.requeue(ids, account=account)
    except (ConfigError, MessageError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    pauses = engine.store.pauses(engine.clock())
    notes = [f"account {name} is paused until {_when(pauses[name].until, engine)} "
             f"({pauses[name].reason}): its messages go after that"
             for name in sorted({item.account for item in changed.done} & pauses.keys())]
    report_change(changed, "requeued", f"no dead messages of {account} to retry", as_json,
                  notes)


@queue.command("prune")
@click.option("--before", metavar="WHEN", required=True,
              help="Delete messages finished before this: an age such as 90d, or an ISO "
                   "date; at least 7 days back.")
@json_option
@pass_context
def queue_prune(obj: Context, before: str, as_json: bool) -> None:
    """Delete finished messages (sent, failed for good, cancelled) from the outbox,
    those finished before --before, so it stops growing.

    Nothing queued or in flight is touched, and the delivery log keeps its
    entries about them (postroom log clear deletes those). A dead message
    pruned can no longer be retried, and a late delivery report or bounce for
    a pruned message is not matched to it. Workers may run meanwhile.
    """
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    try:
        count = engine.prune(parse_time(before, "--before", engine, past=True))
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except MessageError as exc:
        fail(f"--before: {exc.message}", EXIT_USAGE, as_json)
    emit(as_json, {"deleted": count}, f"deleted {count} finished messages from the outbox")


def report_change(changed: Changed, done: str, nothing: str, as_json: bool,
                  notes: list[str] | None = None) -> None:
    """Show what a cancel or retry did and left, and why; exit 1 if it left any
    message it was asked to change, or changed one with a caveat (cancelled,
    but it may have been sent)."""
    # The rest are in --json (a bulk cancel would fill the screen); caveats always show.
    shown = changed.done[:20] + [item for item in changed.done[20:] if item.caveat]
    lines = []
    for item in shown:
        lines.append(f"{done} {item.message_id} ({item.account}) to {item.recipient}: "
                     f"{item.summary!r}")
        if item.caveat:
            lines.append(f"  warning: {item.caveat}")
    if len(changed.done) > len(shown):
        lines.append(f"... and {len(changed.done) - len(shown)} more")
    lines += [f"left {item.message_id}" + (f" ({item.account})" if item.account else "")
              + f": {item.why}" for item in changed.left]
    doubtful = sum(1 for item in changed.done if item.caveat)
    if changed.done or changed.left:
        lines.append(f"{len(changed.done)} {done}"
                     + (f" ({doubtful} may have been sent)" if doubtful else "")
                     + f", {len(changed.left)} left as they were")
    else:
        lines.append(nothing)
    lines += notes or []
    emit(as_json, {done: changed.done, "left": changed.left, "notes": notes or []},
         "\n".join(lines))
    if not changed.ok:
        sys.exit(EXIT_FAILED)


@cli.group(invoke_without_command=True)
@click.option("-a", "--account", help="Only this account.")
@click.option("--status", metavar="OUTCOME",
              help="Only entries with this outcome: " + ", ".join(o.value for o in Outcome)
              + ", dead (gave up after its last try), skipped, override, cancelled, requeued, "
              "cleared, pruned, or a delivery report's status (delivered, failed...).")
@click.option("--since", metavar="WHEN", help="ISO date/time, or an age such as 2h or 7d.")
@click.option("--recipient", help="Recipient address or number (or part of it).")
@click.option("--batch", metavar="ID", help="Only the messages of this bulk send.")
@click.option("--limit", type=click.IntRange(0, 10**9), default=50, show_default=True,
              help="At most this many entries (0: all).")
@json_option
@click.pass_context
def log(ctx: click.Context, account, status, since, recipient, batch, limit,
        as_json: bool) -> None:
    """Show the delivery log: every attempt, newest first."""
    if ctx.invoked_subcommand:
        return
    engine = ctx.find_object(Context).engine(as_json)
    entries = engine.log(account=account, outcome=status, recipient=recipient,
                         since=since_option(since, engine, as_json), limit=limit, batch=batch)
    lines = [log_line(e, engine) for e in entries]
    emit(as_json, entries, "\n".join(lines) if lines else "no log entries")


def since_option(since: str | None, engine: Engine, as_json: bool) -> float | None:
    """A ``--since`` value as epoch seconds (None when not given); exits 2 if unreadable."""
    try:
        return parse_time(since, "--since", engine, past=True).timestamp() if since else None
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)


def log_line(e: LogEntry, engine: Engine) -> str:
    line = f"{_when(e.at, engine)}  {e.account:<10} {e.outcome:<15} {e.recipient}  {e.summary!r}"
    if e.outcome == "accepted":
        return line + (f"  id {e.provider_id}" if e.provider_id else "")
    detail = " ".join(part for part in (e.code, e.text) if part)
    return line + (f"  [{detail}]" if detail else "")


@log.command("clear")
@click.option("--before", metavar="WHEN", help="Only entries older than this (ISO or 30d).")
@json_option
@pass_context
def log_clear(obj: Context, before: str | None, as_json: bool) -> None:
    """Delete the delivery log, or the part older than --before."""
    engine = obj.engine(as_json)
    try:
        cutoff = parse_time(before, "--before", engine, past=True) if before else None
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    count = engine.clear_log(cutoff)
    emit(as_json, {"deleted": count}, f"deleted {count} log entries")


@cli.command()
@click.argument("event")
@click.option("--to", multiple=True, required=True,
              help="An email address or phone number to tell (repeat for several, or "
                   "separate them with commas).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="A template value (repeat for several).")
@click.option("--key", help="Idempotency key: repeating the call queues nothing new.")
@click.option("--queue", "queue_only", is_flag=True, help="Only queue; a worker sends it.")
@batch_option
@json_option
@pass_context
def notify(obj: Context, event: str, to, variables, key, queue_only, batch: str | None,
           as_json: bool) -> None:
    """Tell people about EVENT on the channels its config names."""
    engine = obj.engine(as_json)
    try:
        done = engine.notify(event, each_recipient(to), parse_vars(variables), key=key,
                             batch=batch)
    except (ConfigError, MessageError, TemplateError, StoreError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except PostroomError as exc:
        fail(str(exc), EXIT_FAILED, as_json)
    accounts = sorted({account for _, account, _ in done.queued})
    if accounts and not queue_only:
        engine.run_worker(once=True, accounts=accounts, wait=0,
                          messages=[message_id for _, _, message_id in done.queued])
    rows = []
    for delivery, account, message_id in done.queued:
        entries = engine.log(message_id=message_id, limit=1)
        outcome = entries[0].outcome if entries else "queued"
        rows.append({"to": delivery.to, "channel": delivery.channel, "account": account,
                     "id": message_id, "outcome": outcome}
                    | ({"batch": done.batch} if done.batch else {}))
    rows += [{"to": s.contact.label, "channel": s.channel, "outcome": "skipped",
              "reason": s.reason} for s in done.skipped]
    lines = [f"{r['outcome']}: {r['to']} by {r['channel'] or 'any channel'}"
             + (f" via {r['account']} (id {r['id']})" if "account" in r else f": {r['reason']}")
             for r in rows]
    if done.batch:
        lines.append(f"batch {done.batch}: follow it with `postroom queue --batch {done.batch}`")
    emit(as_json, rows, "\n".join(lines) or "nobody to tell")
    if any(r["outcome"] not in ("accepted", "queued", "skipped") for r in rows):
        sys.exit(EXIT_FAILED)


@cli.command()
@click.argument("template")
@click.option("--to", help="The recipient to render for (address or number).")
@click.option("--name", help="The recipient's name.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="A template value (repeat for several).")
@click.option("--channel", "channels", multiple=True, type=click.Choice(["email", "sms"]),
              help="Only these parts (default: every part the template has).")
@click.option("-a", "--account", help="Preview for this account (its channel, SMS price).")
@click.option("--locale", help="The recipient's locale, such as fr or pt-BR.")
@click.option("--timezone", "zone", help="The recipient's time zone, such as Europe/Paris.")
@click.option("--no-signature", is_flag=True, help="Leave the organisation's signature off.")
@json_option
@pass_context
def render(obj: Context, template: str, to, name, variables, channels, account, locale, zone,
           no_signature: bool, as_json: bool) -> None:
    """Preview TEMPLATE exactly as it would be sent, with SMS segments and cost."""
    engine = obj.engine(as_json)
    try:
        recipient = Recipient(to=to, name=name, locale=locale, timezone=zone)
        found = engine.preview(template, account=account, channels=channels or None,
                               context=parse_vars(variables), recipient=recipient,
                               signature=not no_signature)
    except (ConfigError, MessageError, TemplateError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    emit(as_json, found.as_dict(), found.as_text())


@cli.command()
@click.argument("account")
@click.option("--count", type=click.IntRange(1, 10**9), required=True, help="How many messages.")
@json_option
@pass_context
def estimate(obj: Context, account: str, count: int, as_json: bool) -> None:
    """Estimate when COUNT messages sent now through ACCOUNT will all have gone."""
    engine = obj.engine(as_json)
    try:
        found = engine.estimate(account, count)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except ValueError as exc:  # more than the limits let go in ten years
        fail(f"{account}: {exc}", EXIT_USAGE, as_json)
    emit(as_json, found, describe_estimate(account, found, engine))


def describe_estimate(account: str, found: Estimate, engine: Engine) -> str:
    rate = "no rate limit" if found.per_minute is None else f"{found.per_minute:g} a minute"
    per_day = "no daily limit" if found.per_day is None else f"{found.per_day} a day"
    text = (f"{account}: {found.count} messages at {rate}, {per_day}; the last goes "
            f"{_when(found.finish.timestamp(), engine)} ({found.days} day"
            f"{'s' * (found.days != 1)})")
    for session in found.sessions:
        fits = "no limit" if session.fits is None else f"{session.fits} fit"
        text += (f"\n  session {_when(session.start.timestamp(), engine)} to "
                 f"{_when(session.end.timestamp(), engine)[11:]}: {fits}, "
                 f"{session.placed} of these")
    for day in found.session_days:
        fits = "no limit" if day.fits is None else f"{day.fits} fit"
        text += f"\n  on {day.day.isoformat()}: {fits}, {day.placed} of these"
    if found.note:
        text += f"\n  note: {found.note}"
    if found.warning:
        text += f"\n  warning: {found.warning}"
    return text


def _when(epoch: float, engine: Engine) -> str:
    return datetime.fromtimestamp(epoch, engine.config.timezone).strftime("%Y-%m-%d %H:%M:%S %Z")


def words_of_times(engine: Engine) -> Callable[[float], str]:
    """``_when`` for ``engine``: epoch times in the configured time zone."""
    return lambda epoch: _when(epoch, engine)


def parse_time(value: str, option: str, engine: Engine, past: bool = False,
               zone: tzinfo | None = None) -> datetime:
    """An ISO date/time, or with ``past`` an age: 2h, 7d. A time that names no zone is
    read in ``zone``, else the configured time zone. Only 1970 to ten years ahead is
    taken: anything else is a typo."""
    now = engine.clock()
    age = AGE.fullmatch(value) if past else None
    if age:
        seconds = int(age.group(1)) * AGE_UNITS[age.group(2)]
        if seconds > now:
            raise ConfigError([(option, f"{value} reaches back before 1970; give a smaller "
                                        "age, or a date")])
        return datetime.fromtimestamp(now - seconds, UTC)
    try:
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            when = localize(when, zone or engine.config.timezone)
        stamp = when.timestamp()
    except (ValueError, OverflowError, OSError):
        raise ConfigError([(option, f"expected an ISO date and time such as "
                                    f"2026-03-04T09:30{' or an age such as 7d' if past else ''}"
                                    f", got {value!r}")]) from None
    if not 0 <= stamp <= now + MAX_AHEAD.total_seconds():
        when_is = "before 1970" if stamp < 0 else "more than ten years ahead"
        raise ConfigError([(option, f"{value} is {when_is}: check the year")])
    return when


@cli.command()
@click.argument("account")
@json_option
@pass_context
def credits(obj: Context, account: str, as_json: bool) -> None:
    """Show ACCOUNT's remaining balance or credits."""
    engine = obj.engine(as_json)
    try:
        balance = engine.credits(account)
    except (ConfigError, StoreError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except PostroomError as exc:
        fail(str(exc), EXIT_FAILED, as_json)
    if balance is None:
        emit(as_json, {"account": account, "credits": None},
             f"{account}: this provider has no credit balance")
        return
    text = f"{account}: {amount(balance.balance)} {balance.unit}"
    if balance.detail:
        text += f" - {balance.detail}"
    if balance.auto_reload is not None:
        text += f" (auto-reload {'on' if balance.auto_reload else 'off'})"
    if balance.is_low:
        text += ("\n  warning: below the low-balance threshold of "
                 f"{amount(balance.low_threshold)}: top the account up")
    emit(as_json, {"account": account, "credits": _plain(balance), "low": balance.is_low}, text)


def read_stdin(limit: int) -> str:
    """Standard input as UTF-8 text of at most ``limit`` bytes (``--text -``)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise MessageError("text", "there is no standard input to read the text from")
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise MessageError("text", f"standard input holds more than {size_text(limit)}, the "
                                   "most this account takes (max_message_size)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MessageError("text", f"standard input is not UTF-8 text (byte "
                                   f"{data[exc.start]:#04x} at offset {exc.start})") from None


def warn_transport(engine: Engine, accounts: list[str] | tuple[str, ...] | None) -> None:
    """Repeat, once per run, what validate says about accounts whose messages or
    secrets travel unprotected (certificate checks off, plain HTTP)."""
    for where, problem in engine.transport_warnings(accounts):
        warn(f"{where}.{problem.field}: {problem.message}")


# The commands in modules of their own import this module's helpers, so they come last.
from postroom.commands.accounts import account as account_group  # noqa: E402
from postroom.commands.accounts import queue_flush, status_lines  # noqa: E402
from postroom.commands.health import health  # noqa: E402
from postroom.commands.inbox import inbox  # noqa: E402
from postroom.commands.mailbox import mailbox  # noqa: E402
from postroom.commands.web import web  # noqa: E402
from postroom.commands.webhooks import webhooks  # noqa: E402
from postroom.store.commands import store  # noqa: E402

cli.add_command(web)
cli.add_command(webhooks)
cli.add_command(mailbox)
cli.add_command(inbox)
cli.add_command(account_group)
cli.add_command(health)
cli.add_command(store)
queue.add_command(queue_flush)


def main() -> None:
    try:
        cli(prog_name="postroom")
    except StoreUnavailable as exc:  # any command: the outbox is locked, full, unreachable
        fail(str(exc), EXIT_FAILED, "--json" in sys.argv[1:])
    except StoreError as exc:  # the outbox needs an upgrade, or refused a copy
        fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAILED, "--json" in sys.argv[1:])
