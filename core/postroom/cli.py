"""The ``postroom`` command: operators' view of the same engine apps use.

Every command takes ``--json`` for scripts. Exit codes: 0 all went well,
1 the check or send failed, 2 a usage or configuration error. Input is
checked before it is used: arguments and standard input must be UTF-8 text,
dates and ages must land between 1970 and ten years ahead, and an outbox
database that cannot be used is a sentence, never a traceback.
"""

from __future__ import annotations

import enum
import json
import re
import sys
import threading
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path

import attrs
import click

from postroom.config import CONFIG_VARIABLE
from postroom.engine import Changed, Engine
from postroom.errors import ConfigError, MessageError, PostroomError, StoreError, amount
from postroom.files import size_text
from postroom.messages import Attachment
from postroom.plugins import PluginRegistry
from postroom.results import Outcome
from postroom.scheduling import Estimate, localize
from postroom.store import LogEntry
from postroom.templating import Recipient, TemplateError, parse_vars
from postroom.worker import WorkerReport, stop_on_signals

EXIT_FAILED = 1
EXIT_USAGE = 2
MAX_AHEAD = timedelta(days=3653)
"""How far ahead --at may be (ten years): further is a typo in the year."""
AGE = re.compile(r"([0-9]{1,12})([mhd])")
AGE_UNITS = {"m": 60, "h": 3600, "d": 86400}


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
    if isinstance(value, datetime):
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


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self.as_json = False

    def engine(self, as_json: bool) -> Engine:
        self.as_json = as_json  # for errors raised later, as from the outbox database
        try:
            return Engine.from_file(self.config_path)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE, as_json)


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
        except StoreError as exc:
            fail(str(exc), EXIT_USAGE, isinstance(ctx.obj, Context) and ctx.obj.as_json)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar=CONFIG_VARIABLE,
              help=f"Config file (default: ${CONFIG_VARIABLE} or ./postroom.toml).")
@click.version_option(package_name="postroom")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Send email and SMS through the accounts in postroom.toml."""
    ctx.obj = Context(config_path)


@cli.command()
@json_option
def plugins(as_json: bool) -> None:
    """List provider plugins: built-in, installed, broken or disabled."""
    infos = PluginRegistry().plugins()
    lines = []
    for info in infos:
        where = "built-in" if info.builtin else f"{info.distribution} {info.version}"
        lines.append(f"{', '.join(info.providers):<14} {where:<28} {info.status}")
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


@cli.command()
@click.argument("account")
@click.option("--to", "target", metavar="ADDRESS", help="Also send a test message here.")
@json_option
@pass_context
def test(obj: Context, account: str, target: str | None, as_json: bool) -> None:
    """Check live that ACCOUNT can connect, log in and (with --to) send."""
    engine = obj.engine(as_json)
    warn_transport(engine, [account])
    try:
        diagnosis = engine.test(account, target)
    except (ConfigError, MessageError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
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
@click.option("--to", multiple=True, required=True, help="Recipient (repeat for several).")
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
@json_option
@pass_context
def send(obj: Context, account: str, to: tuple[str, ...], subject: str, text: str | None,
         html: str | None, cc, bcc, reply_to, attach, template, variables, send_at, queue_only,
         idempotency_key, as_json: bool) -> None:
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
        options = {"send_at": when, "now": manual, "idempotency_key": idempotency_key}
        if template:
            ids = engine.send(account, template=template, recipients=to,
                              context=parse_vars(variables), **options)
        elif engine.account(account).channel == "sms":
            if subject or html or cc or bcc or reply_to or attach:
                raise MessageError("options", f"{account!r} is an SMS account: only --to and "
                                              "--text apply")
            ids = engine.send(account, *[engine.message(account, to=number, text=text or "")
                                         for number in to], **options)
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
    if manual:
        engine.run_worker(once=True, accounts=[account], wait=0)
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
    if len(ids) > 1 or not manual:
        found = engine.estimate(account, len(ids))
        lines.append(describe_estimate(account, found, engine))
    emit(as_json, rows, "\n".join(lines))
    if any(row["outcome"] not in ("accepted", "queued") for row in rows):
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("-a", "--account", "accounts", multiple=True, help="Only these accounts.")
@json_option
@pass_context
def worker(obj: Context, once: bool, accounts: tuple[str, ...], as_json: bool) -> None:
    """Send queued messages within each account's schedule until stopped.

    SIGTERM or Ctrl-C finishes the batch in hand, then stops.
    """
    engine = obj.engine(as_json)
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
    with click.progressbar(length=waiting, label="sending", show_pos=True) if waiting \
            else nullcontext() as bar:
        done = [0]

        def progress(report: WorkerReport) -> None:
            if bar is not None:
                bar.update(report.handled - done[0])
                done[0] = report.handled
            elif not as_json:
                click.echo(f"sent {report.sent}, failed {report.failed}, "
                           f"retrying {report.retried}")

        report = engine.run_worker(once=once, accounts=accounts or None, stop=stop,
                                   progress=progress)
    emit(as_json, report, f"sent {report.sent}, failed {report.failed}, "
                          f"to retry {report.retried}, in {report.batches} batches")


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
def queue(ctx: click.Context, as_json: bool) -> None:
    """Show what is waiting, scheduled, in flight, dead and cancelled, per account."""
    if ctx.invoked_subcommand:
        return
    engine = ctx.find_object(Context).engine(as_json)
    rows = engine.queue()
    pauses = engine.store.pauses(engine.clock())
    lines = [f"{'account':<16}{'waiting':>9}{'later':>9}{'sending':>9}{'dead':>7}"
             f"{'cancelled':>11}{'sent today':>12}  next"]
    for row in rows:
        nxt = _when(row.next_due, engine) if row.next_due else "-"
        lines.append(f"{row.account:<16}{row.waiting:>9}{row.scheduled:>9}{row.in_flight:>9}"
                     f"{row.dead:>7}{row.cancelled:>11}{row.sent:>12}  {nxt}")
        if row.account in pauses:
            pause = pauses[row.account]
            lines.append(f"  paused until {_when(pause.until, engine)}: {pause.reason}")
        if row.account in engine.config.broken:
            lines.append(f"  cannot send until its settings are fixed: "
                         f"{engine.config.broken[row.account].error()}")
    dead = engine.store.dead()
    lines.extend(f"  dead {mid} ({account}): {error}" for mid, account, error in dead[-20:])
    emit(as_json, {"accounts": rows, "paused": list(pauses.values()),
                   "dead": [{"id": m, "account": a, "error": e} for m, a, e in dead]},
         "\n".join(lines) if rows else "the outbox is empty")


def with_group_json(as_json: bool) -> bool:
    """A subcommand's ``--json``, or its group's: ``postroom queue --json cancel``."""
    parent = click.get_current_context().parent
    return as_json or bool(parent is not None and parent.params.get("as_json"))


@queue.command("cancel")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("-a", "--account", help="Cancel everything queued for this account "
                                      "(with IDs: only those of this account).")
@click.option("--reason", default="", metavar="TEXT", help="Why, for the delivery log.")
@json_option
@pass_context
def queue_cancel(obj: Context, ids: tuple[str, ...], account: str | None, reason: str,
                 as_json: bool) -> None:
    """Cancel queued messages, by ID or for a whole account, so no worker sends them.

    A message a worker is sending right now is left, and shown with why. One
    whose worker's lease ran out is cancelled with a warning that the worker,
    if still running, may have sent it; the exit code is then 1.
    """
    as_json = with_group_json(as_json)
    engine = obj.engine(as_json)
    try:
        changed = engine.cancel(ids, account=account, reason=reason)
    except (ConfigError, MessageError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    report_change(changed, "cancelled", f"nothing queued for {account} to cancel", as_json)


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
              + ", skipped, override, cancelled, requeued, or a delivery report's status "
              "(delivered, failed...).")
@click.option("--since", metavar="WHEN", help="ISO date/time, or an age such as 2h or 7d.")
@click.option("--recipient", help="Recipient address or number (or part of it).")
@click.option("--limit", type=click.IntRange(0, 10**9), default=50, show_default=True,
              help="At most this many entries (0: all).")
@json_option
@click.pass_context
def log(ctx: click.Context, account, status, since, recipient, limit, as_json: bool) -> None:
    """Show the delivery log: every attempt, newest first."""
    if ctx.invoked_subcommand:
        return
    engine = ctx.find_object(Context).engine(as_json)
    try:
        start = parse_time(since, "--since", engine, past=True) if since else None
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    entries = engine.log(account=account, outcome=status, recipient=recipient,
                         since=start.timestamp() if start else None, limit=limit)
    lines = [log_line(e, engine) for e in entries]
    emit(as_json, entries, "\n".join(lines) if lines else "no log entries")


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
              help="An email address or phone number to tell (repeat for several).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="A template value (repeat for several).")
@click.option("--key", help="Idempotency key: repeating the call queues nothing new.")
@click.option("--queue", "queue_only", is_flag=True, help="Only queue; a worker sends it.")
@json_option
@pass_context
def notify(obj: Context, event: str, to, variables, key, queue_only, as_json: bool) -> None:
    """Tell people about EVENT on the channels its config names."""
    engine = obj.engine(as_json)
    try:
        done = engine.notify(event, list(to), parse_vars(variables), key=key)
    except (ConfigError, MessageError, TemplateError, StoreError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except PostroomError as exc:
        fail(str(exc), EXIT_FAILED, as_json)
    accounts = sorted({account for _, account, _ in done.queued})
    if accounts and not queue_only:
        engine.run_worker(once=True, accounts=accounts, wait=0)
    rows = []
    for delivery, account, message_id in done.queued:
        entries = engine.log(message_id=message_id, limit=1)
        outcome = entries[0].outcome if entries else "queued"
        rows.append({"to": delivery.to, "channel": delivery.channel, "account": account,
                     "id": message_id, "outcome": outcome})
    rows += [{"to": s.contact.label, "channel": s.channel, "outcome": "skipped",
              "reason": s.reason} for s in done.skipped]
    lines = [f"{r['outcome']}: {r['to']} by {r['channel'] or 'any channel'}"
             + (f" via {r['account']} (id {r['id']})" if "account" in r else f": {r['reason']}")
             for r in rows]
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
    if found.warning:
        text += f"\n  warning: {found.warning}"
    return text


def _when(epoch: float, engine: Engine) -> str:
    return datetime.fromtimestamp(epoch, engine.config.timezone).strftime("%Y-%m-%d %H:%M:%S %Z")


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


def main() -> None:
    cli(prog_name="postroom")


from postroom.store.commands import store  # noqa: E402 (it builds on the helpers above)

cli.add_command(store)
