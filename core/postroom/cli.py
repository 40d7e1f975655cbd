"""The ``postroom`` command: operators' view of the same engine apps use.

Every command takes ``--json`` for scripts. Exit codes: 0 all went well,
1 the check or send failed, 2 a usage or configuration error.
"""

from __future__ import annotations

import enum
import json
import sys
from decimal import Decimal
from pathlib import Path

import attrs
import click

from postroom.config import CONFIG_VARIABLE
from postroom.engine import Engine
from postroom.errors import ConfigError, MessageError, PostroomError
from postroom.messages import Attachment
from postroom.plugins import PluginRegistry

EXIT_FAILED = 1
EXIT_USAGE = 2


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
    return value


def emit(as_json: bool, data, text: str) -> None:
    click.echo(json.dumps(_plain(data), indent=2, ensure_ascii=False) if as_json else text)


def fail(message: str, code: int = EXIT_USAGE, as_json: bool = False):
    if as_json:
        click.echo(json.dumps({"error": message}, ensure_ascii=False))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path

    def engine(self, as_json: bool) -> Engine:
        try:
            return Engine.from_file(self.config_path)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE, as_json)


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    rows = [{"account": name, **_plain(problem)} for name, problem in found]
    lines = [f"{p.severity}: accounts.{name}.{p.field}: {p.message}" + (f"\n  hint: {p.hint}"
             if p.hint else "") for name, p in found]
    count = len(engine.config.accounts)
    lines.append(f"{count} account{'s' * (count != 1)} checked, "
                 f"{sum(p.severity == 'error' for _, p in found)} errors, "
                 f"{sum(p.severity == 'warning' for _, p in found)} warnings")
    emit(as_json, {"accounts": list(engine.config.accounts), "problems": rows}, "\n".join(lines))
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
@click.option("--attach", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="File to attach (email only; repeat for several).")
@json_option
@pass_context
def send(obj: Context, account: str, to: tuple[str, ...], subject: str, text: str | None,
         html: str | None, cc, bcc, reply_to, attach, as_json: bool) -> None:
    """Send a message through ACCOUNT now."""
    engine = obj.engine(as_json)
    if text == "-":
        text = sys.stdin.read()
    try:
        if engine.account(account).channel == "sms":
            if subject or html or cc or bcc or reply_to or attach:
                raise MessageError("options", f"{account!r} is an SMS account: only --to and "
                                              "--text apply")
            messages = [engine.message(account, to=number, text=text or "") for number in to]
        else:
            messages = [engine.message(
                account, to=list(to), subject=subject, text=text, html=html, cc=list(cc),
                bcc=list(bcc), reply_to=list(reply_to),
                attachments=[Attachment.from_path(p) for p in attach])]
        results = engine.send(account, *messages)
    except (ConfigError, MessageError) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except PostroomError as exc:
        fail(str(exc), EXIT_FAILED, as_json)
    lines = []
    for message, result in zip(messages, results, strict=True):
        who = ", ".join(message.recipients)
        if result.ok:
            lines.append(f"accepted: {who} (id {result.message_id}"
                         + (f", provider id {result.provider_id}" if result.provider_id else "")
                         + ")" + "".join(f"\n  {k}: {v}" for k, v in result.info.items()))
        else:
            lines.append(f"{result.outcome.value}: {who}: {result.code or ''} {result.text}")
        lines.extend(f"  refused {rcpt}: {why}" for rcpt, why in result.refused.items())
    emit(as_json, results, "\n".join(lines))
    if not all(r.ok for r in results):
        sys.exit(EXIT_FAILED)


@cli.command()
@click.argument("account")
@json_option
@pass_context
def credits(obj: Context, account: str, as_json: bool) -> None:
    """Show ACCOUNT's remaining balance or credits."""
    engine = obj.engine(as_json)
    try:
        balance = engine.credits(account)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    except PostroomError as exc:
        fail(str(exc), EXIT_FAILED, as_json)
    if balance is None:
        emit(as_json, {"account": account, "credits": None},
             f"{account}: this provider has no credit balance")
        return
    text = f"{account}: {balance.balance} {balance.unit}"
    if balance.auto_reload is not None:
        text += f" (auto-reload {'on' if balance.auto_reload else 'off'})"
    if balance.is_low:
        text += f"\n  warning: below the low-balance threshold of {balance.low_threshold}"
    emit(as_json, {"account": account, "credits": _plain(balance), "low": balance.is_low}, text)


def main() -> None:
    cli(prog_name="postroom")
