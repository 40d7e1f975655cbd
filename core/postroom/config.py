"""Reading ``postroom.toml`` (or a dict) into typed, checked configuration.

::

    region = "GB"                      # default region for local phone numbers

    timezone = "Europe/London"         # for send windows, daily caps, recurring sends

    [accounts.office]
    provider = "smtp"                  # which plugin serves this account
    host = "mail.example.org"
    password = { env = "OFFICE_SMTP_PASSWORD" }

    [accounts.office.schedule]
    windows = [{ days = "mon-fri", start = "08:00", end = "17:00" }]
    daily_cap = 500

The keys postroom reads itself (``provider``, ``region``, ``schedule``) are
taken out of each account's table; the rest goes to the provider's plugin
through ``postroom_configure``.

An account whose settings cannot be read (a secret whose variable is not
set, a bad port) is kept aside as a ``BrokenAccount`` with its problems: it
sends nothing until fixed, while every other account works. ``strict=True``
refuses the whole file instead.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from datetime import UTC, date, time, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from attrs import define, evolve, field

from postroom.errors import ConfigError
from postroom.files import UnreadableFile, read_regular_file
from postroom.health import HealthSettings
from postroom.inbound import DEFAULT_OPT_IN, DEFAULT_OPT_OUT, Keywords
from postroom.logs import LoggingSettings
from postroom.mailbox.settings import MailboxSettings
from postroom.notifications import Event, Importance
from postroom.plugins import PluginRegistry
from postroom.scheduling import Schedule, Session, Window
from postroom.secrets import Secret
from postroom.settings import (
    DEFAULT_MAX_MESSAGE_SIZE,
    ConfigContext,
    Days,
    EmailAddress,
    Lanes,
    PerSecond,
    Port,
    PositiveInt,
    ProviderConfig,
    Region,
    Seconds,
    SecondsOrZero,
    Weekdays,
    check,
    make_converter,
    shown,
    structure,
)
from postroom.store.schema import DEFAULT_SCHEMA, SCHEMA_HINT, SCHEMA_NAME
from postroom.templating.settings import TemplateSettings

CONFIG_FILE = "postroom.toml"
CONFIG_VARIABLE = "POSTROOM_CONFIG"
MAX_CONFIG_BYTES = 1024 * 1024
"""Largest config file read (1 MiB): far beyond any configuration, short of a disk image."""
MAX_DOTS_A_LINE = 1000
CORE_ACCOUNT_KEYS = ("provider", "region", "schedule", "price_per_segment", "mailbox",
                     "keywords", "enabled", "archive_bcc", "max_message_size")


@define
class WindowSettings:
    """``{ days = "mon-fri", start = "08:00", end = "17:00" }``"""

    days: Weekdays
    start: time
    end: time


@define
class SessionSettings:
    """``{ date = 2026-12-03, start = "09:00", end = "12:00" }``: a dated session."""

    date: date
    start: time
    end: time

    def __attrs_post_init__(self) -> None:
        check("end", self.end != self.start, "a session must not end when it starts: give "
                                             "a later end (or an earlier one for past midnight)")


@define
class ScheduleSettings:
    """``[accounts.NAME.schedule]``: when and how fast the account sends.

    Durations are in seconds, ``check_every`` in minutes. ``timezone``
    defaults to the top-level one.
    """

    timezone: ZoneInfo | None = None
    windows: list[WindowSettings] = field(factory=list)
    sessions: list[SessionSettings] = field(factory=list)
    mode: Literal["immediate", "scheduled", "manual"] = "immediate"
    check_every: PositiveInt | None = None
    at: list[time] = field(factory=list)
    per_second: PerSecond | None = None
    burst: PositiveInt | None = None
    per_minute: PositiveInt | None = None
    per_hour: PositiveInt | None = None
    daily_cap: PositiveInt | None = None
    min_gap: SecondsOrZero = 0.0
    stagger: SecondsOrZero = 0.0

    def __attrs_post_init__(self) -> None:
        check("mode", self.mode != "scheduled" or self.check_every is not None or bool(self.at),
              'a scheduled account needs its checks: set check_every = 15 (minutes) or '
              'at = ["09:00", "13:00"], or use mode = "immediate"')

    def tightened(self, limits: ScheduleSettings) -> ScheduleSettings:
        """These settings with a provider's ``limits`` where they are tighter:
        the lower rate, cap and burst, the longer gap."""
        def lower(mine, theirs):
            return theirs if mine is None else mine if theirs is None else min(mine, theirs)

        counted = {name: lower(getattr(self, name), getattr(limits, name))
                   for name in ("per_second", "burst", "per_minute", "per_hour", "daily_cap")}
        return evolve(self, **counted, min_gap=max(self.min_gap, limits.min_gap),
                      stagger=max(self.stagger, limits.stagger))

    def build(self, default_tz: tzinfo) -> Schedule:
        windows = tuple(Window(frozenset(w.days), w.start, w.end) for w in self.windows)
        sessions = tuple(Session(s.date, s.start, s.end) for s in self.sessions)
        every = None if self.check_every is None else timedelta(minutes=self.check_every)
        return Schedule(windows, self.timezone or default_tz, self.per_second, self.per_minute,
                        self.per_hour, self.daily_cap, self.min_gap, self.stagger,
                        self.burst or 1, sessions, self.mode, every, tuple(sorted(set(self.at))))


@define
class KeywordSettings:
    """``[accounts.NAME.keywords]``: replies that opt a number out or back in."""

    opt_out: list[str] = field(factory=lambda: list(DEFAULT_OPT_OUT))
    opt_in: list[str] = field(factory=lambda: list(DEFAULT_OPT_IN))

    def build(self) -> Keywords:
        return Keywords(self.opt_out, self.opt_in)


@define
class StoreSettings:
    """``[store]``: where the outbox and delivery log live.

    ``path``: an SQLite file. ``url``: a PostgreSQL database instead (a secret,
    as it may hold a password), with the tables in ``schema``.
    """

    path: Path
    log: bool = True
    durability: Literal["full", "normal"] = "full"
    busy_timeout: Seconds = 30.0
    url: Secret | None = None
    schema: str = DEFAULT_SCHEMA


@define
class DeliverySettings:
    """``[delivery]``: batches, retries and leases (seconds)."""

    batch_size: PositiveInt = 100
    # Batches a worker sends at once, each on its own connection (see postroom.worker.loop).
    concurrency: Lanes = 1
    # Ten tries with the default backoff span about three hours: a mail server
    # down for an evening's maintenance does not kill the queue.
    max_attempts: PositiveInt = 10
    backoff: Seconds = 30.0
    backoff_max: Seconds = 3600.0
    lease: Seconds = 300.0
    poll: Seconds = 5.0
    throttle_pause: Seconds = 60.0
    stopped_pause: Seconds = 3600.0
    once_wait: Seconds = 60.0
    warn_after_days: Days = 3.0
    failover_after: Seconds = 300.0
    cooldown: Seconds = 600.0
    # An account that cannot be reached pauses 5 s, then 10, 20... up to a minute
    # between probes: few connection attempts, and a quick start once it is back.
    unreachable_pause: Seconds = 5.0
    unreachable_pause_max: Seconds = 60.0


@define
class WebSettings:
    """``[web]``: the admin page (``postroom web``, ``postroom.web.create_app``).

    ``password`` is what people log in with (a long random token works as
    well); ``session_minutes`` how long a login lasts; ``secure_cookies``
    sends the session cookie over HTTPS only, for a page served behind TLS.
    """

    password: Secret | None = None
    host: str = "127.0.0.1"
    port: Port = 8025
    session_minutes: PositiveInt = 480
    secure_cookies: bool = False


@define
class AdminSettings:
    """``[admin]``: where notices for people go (the credit of an account running low),
    and the email ``account`` that sends them (default: the first email account)."""

    email: EmailAddress
    account: str | None = None


@define
class EventSettings:
    """``[events.NAME]``: the template an event is told with, and how."""

    template: str
    channels: list[Literal["email", "sms"]] = field(factory=lambda: ["email"])
    importance: Importance = "normal"


@define
class RecurringSettings:
    """``[recurring.NAME]``: a message sent on ``days`` at ``at`` o'clock."""

    account: str
    days: Weekdays
    at: time
    to: list[str]
    subject: str = ""
    text: str | None = None
    html: str | None = None
    timezone: ZoneInfo | None = None


@define
class Account:
    """A named account: the provider it uses, that provider's typed config,
    and the schedule it sends on."""

    name: str
    provider: str
    config: ProviderConfig
    region: str | None = None
    schedule: Schedule = field(factory=Schedule)
    price_per_segment: Decimal | None = None
    mailbox: MailboxSettings | None = None
    keywords: Keywords = field(factory=Keywords)
    enabled: bool = True
    archive_bcc: str | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE["email"]

    @property
    def channel(self) -> str:
        return self.config.channel


@define
class BrokenAccount:
    """An account whose settings could not be read: it sends nothing until they are fixed.

    ``problems`` are ``(path, message)`` pairs with full paths
    (``accounts.backup.password``); ``provider`` is the provider it names, if any.
    """

    name: str
    provider: str | None
    problems: list[tuple[str, str]]

    def error(self) -> ConfigError:
        """The error an attempt to use the account raises."""
        return ConfigError(self.problems)


@define
class Config:
    """The whole configuration: accounts by name and the settings they share."""

    accounts: dict[str, Account] = field(factory=dict)
    store: StoreSettings = field(factory=lambda: StoreSettings(Path(CONFIG_FILE).with_suffix(
        ".db")))
    delivery: DeliverySettings = field(factory=DeliverySettings)
    recurring: dict[str, RecurringSettings] = field(factory=dict)
    region: str | None = None
    timezone: tzinfo = UTC
    path: Path | None = None
    templates: TemplateSettings | None = None
    channels: dict[str, list[str]] = field(factory=dict)
    events: dict[str, Event] = field(factory=dict)
    gateways: dict[str, str] = field(factory=dict)
    web: WebSettings = field(factory=WebSettings)
    admin: AdminSettings | None = None
    logging: LoggingSettings = field(factory=LoggingSettings)
    health: HealthSettings = field(factory=HealthSettings)
    broken: dict[str, BrokenAccount] = field(factory=dict)
    # The folder relative paths in the file were read from (the file's own, or base_dir).
    folder: Path | None = None


@define
class TopLevel:
    """The file's top-level settings other than the accounts."""

    region: Region | None = None
    timezone: ZoneInfo | None = None
    store: StoreSettings | None = None
    delivery: DeliverySettings = field(factory=DeliverySettings)
    recurring: dict[str, RecurringSettings] = field(factory=dict)
    templates: TemplateSettings | None = None
    channels: dict[Literal["email", "sms"], list[str]] = field(factory=dict)
    events: dict[str, EventSettings] = field(factory=dict)
    gateways: dict[str, str] = field(factory=dict)
    web: WebSettings = field(factory=WebSettings)
    archive_bcc: EmailAddress | None = None
    admin: AdminSettings | None = None
    logging: LoggingSettings = field(factory=LoggingSettings)
    health: HealthSettings = field(factory=HealthSettings)
    accounts: dict = field(factory=dict)  # read account by account, through the plugins


def find_config_file(explicit: str | os.PathLike | None = None,
                     environ: Mapping[str, str] | None = None) -> Path:
    """The config file to use: ``explicit``, else ``$POSTROOM_CONFIG``, else ``./postroom.toml``."""
    environ = os.environ if environ is None else environ
    chosen = explicit or environ.get(CONFIG_VARIABLE) or CONFIG_FILE
    path = Path(chosen).expanduser()
    if not path.exists():
        how = ("given with --config" if explicit else
               f"named by {CONFIG_VARIABLE}" if environ.get(CONFIG_VARIABLE) else
               "looked for in the current folder")
        raise ConfigError([("", f"no config file at {path} ({how}); create {CONFIG_FILE} "
                                "or pass --config PATH")])
    return path


def read_config_file(path: Path) -> dict:
    """Parse a TOML config file, pointing at the line of a syntax error.

    Only a regular file of UTF-8 text up to ``MAX_CONFIG_BYTES`` is read, so a
    path naming a program, a pipe or a device is refused rather than read.
    """
    try:
        data = read_regular_file(path, MAX_CONFIG_BYTES)
    except UnreadableFile as exc:
        raise ConfigError([(str(path), f"cannot read: {exc.reason}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([(str(path), f"not a text file (byte {data[exc.start]:#04x} at "
                                       f"offset {exc.start} is not UTF-8): the config is a "
                                       "TOML text file")]) from None
    for number, line in enumerate(text.splitlines(), 1):
        # tomllib's time and memory grow with the square of a dotted key's parts.
        if line.count(".") > MAX_DOTS_A_LINE:
            raise ConfigError([(str(path), f"line {number} has more than {MAX_DOTS_A_LINE} "
                                           "dots: no postroom setting is nested that deep")])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([(str(path), f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ConfigError([(str(path), "not valid TOML for postroom: tables or lists nested "
                                       "too deeply")]) from None


def load_config(
    data: Mapping[str, object],
    registry: PluginRegistry,
    *,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
    strict: bool = False,
) -> Config:
    """Build a ``Config`` from parsed TOML or a dict; one ``ConfigError`` lists every issue.

    An account with problems of its own is kept in ``Config.broken`` rather
    than refused, so the others work; with ``strict`` its problems are
    raised with the rest.
    """
    base_dir = (base_dir or (path.parent if path else Path.cwd())).resolve()
    environ = dict(os.environ if environ is None else environ)
    converter = make_converter(base_dir, environ)
    issues: list[tuple[str, str]] = []

    top = {**data, "accounts": {}}
    store = top.get("store", {})
    if isinstance(store, Mapping):
        top["store"] = {"path": "postroom.db", **store}
    else:
        issues.append(("store", f"expected a table ([store]), got {shown(store)}"))
        del top["store"]
    try:
        settings = structure(top, TopLevel, converter)
    except ConfigError as exc:
        issues.extend(exc.issues)
        settings = TopLevel()
    if settings.store is not None:
        issues.extend(_store_issues(settings.store))
    region = settings.region

    accounts: dict[str, Account] = {}
    broken: dict[str, BrokenAccount] = {}
    raw_accounts = data.get("accounts", {})
    if not isinstance(raw_accounts, Mapping):
        issues.append(("accounts", "expected a table of accounts ([accounts.NAME])"))
        raw_accounts = {}
    for name, raw in raw_accounts.items():
        try:
            accounts[name] = _load_account(name, raw, registry, base_dir, environ,
                                           region, settings.timezone or UTC, converter,
                                           settings.archive_bcc)
        except ConfigError as exc:
            provider = raw.get("provider") if isinstance(raw, Mapping) else None
            broken[name] = BrokenAccount(name, provider if isinstance(provider, str) else None,
                                         exc.under(f"accounts.{name}").issues)
    for name, recurring in settings.recurring.items():
        if recurring.account not in accounts and recurring.account not in broken:
            issues.append((f"recurring.{name}.account",
                           f"no account named {recurring.account!r}"))
    issues.extend(_group_issues(settings.channels, accounts, broken))
    if strict:
        issues += [issue for account in broken.values() for issue in account.problems]
    admin = settings.admin
    # An admin account whose own settings are broken waits with it, named in `broken`.
    if (admin is not None and admin.account not in broken
            and not any(path.startswith("accounts.") for path, _ in issues)):
        admin = _admin_account(admin, accounts, issues)
    if issues:
        raise ConfigError(issues)
    # A channel with no group of its own falls over through its accounts in file order.
    channels = {channel: settings.channels.get(channel) or
                [name for name, account in accounts.items() if account.channel == channel]
                for channel in ("email", "sms")}
    events = {name: Event(name=name, template=e.template, channels=tuple(e.channels),
                          importance=e.importance) for name, e in settings.events.items()}
    # Every path that leaves settings.store unset has added an issue and raised above.
    return Config(accounts, settings.store, settings.delivery, settings.recurring, region,
                  settings.timezone or UTC, path, settings.templates, channels, events,
                  settings.gateways, settings.web, admin, settings.logging, settings.health,
                  broken, base_dir)


def _admin_account(admin: AdminSettings, accounts: Mapping[str, Account],
                   issues: list[tuple[str, str]]) -> AdminSettings:
    """``[admin]`` with the account that sends its notices chosen and checked."""
    emailing = [name for name, account in accounts.items() if account.channel == "email"]
    if admin.account is None:
        if not emailing:
            issues.append(("admin.account", "no email account to send the notices through: "
                                            "configure one, or remove [admin]"))
            return admin
        return evolve(admin, account=emailing[0])
    if admin.account not in emailing:
        what = "is not an email account" if admin.account in accounts else "is not configured"
        issues.append(("admin.account", f"{admin.account!r} {what}; email accounts: "
                                        f"{', '.join(emailing) or '(none)'}"))
    return admin


def _store_issues(store: StoreSettings):
    if store.url is not None and not store.url.reveal().startswith(("postgresql://",
                                                                     "postgres://")):
        # The value is a secret: the message says what was expected, not what was found.
        yield "store.url", ('expected a PostgreSQL URL such as "postgresql://user@host/dbname" '
                            f"(from {store.url.source}); for an SQLite file use path")
    if not SCHEMA_NAME.fullmatch(store.schema):
        yield "store.schema", f"expected {SCHEMA_HINT}, got {shown(store.schema)}"


def _group_issues(groups: Mapping[str, list[str]], accounts: Mapping[str, Account],
                  broken: Mapping[str, BrokenAccount]):
    for channel, names in groups.items():
        for index, name in enumerate(names):
            where = f"channels.{channel}[{index}]"
            if name in broken:
                continue
            if name not in accounts:
                yield where, f"no account named {name!r}"
            elif accounts[name].channel != channel:
                yield where, f"account {name!r} sends {accounts[name].channel}, not {channel}"


def _load_account(name, settings, registry, base_dir, environ, default_region, timezone,
                  converter, default_archive=None):
    if not isinstance(settings, Mapping):
        raise ConfigError([("", f"expected a table of settings, got {shown(settings)}")])
    provider = settings.get("provider")
    if not isinstance(provider, str):
        raise ConfigError([("provider", "required: the provider that sends for this account; "
                                        f"installed: {_installed(registry)}")])
    region = _core_setting(settings, "region", Region, converter) or default_region
    available = registry.providers()
    if provider not in available:
        reason = registry.why_unavailable(provider)
        if reason:
            raise ConfigError([("provider", f"provider {provider!r} cannot be used: {reason}")])
        close = difflib.get_close_matches(provider, available, n=1)
        raise ConfigError([("provider", f"unknown provider {provider!r}"
                            + (f" (did you mean {close[0]!r}?)" if close else "")
                            + f"; installed providers: {_installed(registry)}")])
    context = ConfigContext(name, base_dir, region, environ, converter=converter)
    rest = {k: v for k, v in settings.items() if k not in CORE_ACCOUNT_KEYS}
    try:
        config = registry.hook.postroom_configure(provider=provider, settings=rest,
                                                  context=context)
    except ConfigError:
        raise
    except Exception as exc:  # a plugin's bug; its text may quote a setting, so only the kind
        raise ConfigError([("provider", f"the plugin for {provider!r} "
                            f"({available[provider].distribution}) failed reading the settings "
                            f"({type(exc).__name__}); report it to the plugin's authors")]
                          ) from None
    if config is None:
        raise ConfigError([("provider", f"the plugin for {provider!r} "
                            f"({available[provider].distribution}) did not answer configure")])
    if not isinstance(config, ProviderConfig) or config.provider != provider:
        raise ConfigError([("provider", f"the plugin for {provider!r} returned "
                            f"{type(config).__name__}, not a ProviderConfig for {provider!r}")])
    raw_schedule = settings.get("schedule") or {}
    if not isinstance(raw_schedule, Mapping):
        raise ConfigError([("schedule", "expected a table ([accounts.NAME.schedule])")])
    try:
        schedule = structure({**config.schedule_defaults(), **raw_schedule}, ScheduleSettings,
                             converter)
    except ConfigError as exc:
        raise exc.under("schedule") from None
    try:
        schedule = schedule.tightened(structure(config.limits(), ScheduleSettings, converter))
    except ConfigError as exc:
        raise ConfigError([("provider", f"the {provider} plugin declares limits postroom "
                                        f"cannot read: {exc}")]) from None
    price = _core_setting(settings, "price_per_segment", Decimal, converter)
    largest = (_core_setting(settings, "max_message_size", PositiveInt, converter)
               or config.max_message_size or DEFAULT_MAX_MESSAGE_SIZE[config.channel])
    mailbox = None
    if settings.get("mailbox") is not None:
        try:
            mailbox = structure(settings["mailbox"], MailboxSettings, converter)
        except ConfigError as exc:
            raise exc.under("mailbox") from None
        mailbox = mailbox.with_account_tls(config)
    try:
        keywords = structure(settings.get("keywords", {}), KeywordSettings, converter).build()
    except ConfigError as exc:
        raise exc.under("keywords") from None
    enabled, archive = _switches(settings, converter, config.channel, default_archive)
    return Account(name, provider, config, region, schedule.build(timezone), price, mailbox,
                   keywords, enabled, archive, largest)


def _core_setting(settings: Mapping[str, object], key: str, kind: object, converter):
    """A setting of the account's own table that postroom reads itself, or None."""
    if key not in settings:
        return None
    try:
        return converter.structure(settings[key], kind)
    except ValueError as exc:
        raise ConfigError([(key, str(exc))]) from None


def _switches(settings, converter, channel: str, default_archive: str | None):
    """The account's ``enabled`` and ``archive_bcc`` (its own, else the top-level one
    for an email account)."""
    issues = []
    enabled = settings.get("enabled", True)
    if not isinstance(enabled, bool):
        issues.append(("enabled", f"expected true or false, got {shown(enabled)}"))
    archive = settings.get("archive_bcc")
    if archive is not None:
        if channel != "email":
            issues.append(("archive_bcc", "only email accounts keep an archive copy; remove "
                                          "archive_bcc from this SMS account"))
        else:
            try:
                archive = converter.structure(archive, EmailAddress)
            except ValueError as exc:
                issues.append(("archive_bcc", str(exc)))
    if issues:
        raise ConfigError(issues)
    return enabled, archive if archive is not None else (
        default_archive if channel == "email" else None)


def _installed(registry: PluginRegistry) -> str:
    return ", ".join(registry.providers()) or "(none)"
