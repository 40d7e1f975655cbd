"""Reading ``postroom.toml`` (or a dict) into typed, checked configuration.

::

    region = "GB"                      # default region for local phone numbers

    [accounts.office]
    provider = "smtp"                  # which plugin serves this account
    host = "mail.example.org"
    password = { env = "OFFICE_SMTP_PASSWORD" }

The keys postroom reads itself (``provider``, ``region``) are taken out of each
account's table; the rest goes to the provider's plugin through
``postroom_configure``.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from attrs import define, field

from postroom.errors import ConfigError
from postroom.plugins import PluginRegistry
from postroom.settings import ConfigContext, ProviderConfig, Region, make_converter, shown

CONFIG_FILE = "postroom.toml"
CONFIG_VARIABLE = "POSTROOM_CONFIG"
CORE_ACCOUNT_KEYS = ("provider", "region")
TOP_LEVEL_KEYS = ("region", "accounts")


@define
class Account:
    """A named account: the provider it uses and that provider's typed config."""

    name: str
    provider: str
    config: ProviderConfig
    region: str | None = None

    @property
    def channel(self) -> str:
        return self.config.channel


@define
class Config:
    """The whole configuration: accounts by name and the defaults they share."""

    accounts: dict[str, Account] = field(factory=dict)
    region: str | None = None
    path: Path | None = None


def find_config_file(explicit: str | os.PathLike | None = None,
                     environ: Mapping[str, str] | None = None) -> Path:
    """The config file to use: ``explicit``, else ``$POSTROOM_CONFIG``, else ``./postroom.toml``."""
    environ = os.environ if environ is None else environ
    chosen = explicit or environ.get(CONFIG_VARIABLE) or CONFIG_FILE
    path = Path(chosen).expanduser()
    if not path.is_file():
        how = ("given with --config" if explicit else
               f"named by {CONFIG_VARIABLE}" if environ.get(CONFIG_VARIABLE) else
               "looked for in the current folder")
        raise ConfigError([("", f"no config file at {path} ({how}); create {CONFIG_FILE} "
                                "or pass --config PATH")])
    return path


def read_config_file(path: Path) -> dict:
    """Parse a TOML config file, pointing at the line of a syntax error."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([(str(path), f"not valid TOML: {exc}")]) from None
    except OSError as exc:
        raise ConfigError([(str(path), f"cannot read: {exc.strerror}")]) from None


def load_config(
    data: Mapping[str, object],
    registry: PluginRegistry,
    *,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Config:
    """Build a ``Config`` from parsed TOML or a dict; one ``ConfigError`` lists every issue."""
    base_dir = (base_dir or (path.parent if path else Path.cwd())).resolve()
    environ = dict(os.environ if environ is None else environ)
    converter = make_converter(base_dir, environ)
    issues: list[tuple[str, str]] = []

    for key in data:
        if key not in TOP_LEVEL_KEYS:
            close = difflib.get_close_matches(key, TOP_LEVEL_KEYS, n=1)
            issues.append((key, "unknown setting" + (f"; did you mean {close[0]!r}?" if close
                                                     else "")))
    region = None
    if "region" in data:
        try:
            region = converter.structure(data["region"], Region)
        except ValueError as exc:
            issues.append(("region", str(exc)))

    accounts: dict[str, Account] = {}
    raw_accounts = data.get("accounts", {})
    if not isinstance(raw_accounts, Mapping):
        issues.append(("accounts", "expected a table of accounts ([accounts.NAME])"))
        raw_accounts = {}
    for name, settings in raw_accounts.items():
        try:
            accounts[name] = _load_account(name, settings, registry, base_dir, environ,
                                           region, converter)
        except ConfigError as exc:
            issues.extend(exc.under(f"accounts.{name}").issues)
    if issues:
        raise ConfigError(issues)
    return Config(accounts, region, path)


def _load_account(name, settings, registry, base_dir, environ, default_region, converter):
    if not isinstance(settings, Mapping):
        raise ConfigError([("", f"expected a table of settings, got {shown(settings)}")])
    provider = settings.get("provider")
    if not isinstance(provider, str):
        raise ConfigError([("provider", "required: the provider that sends for this account; "
                                        f"installed: {_installed(registry)}")])
    region = default_region
    if "region" in settings:
        try:
            region = converter.structure(settings["region"], Region)
        except ValueError as exc:
            raise ConfigError([("region", str(exc))]) from None
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
    config = registry.hook.postroom_configure(provider=provider, settings=rest, context=context)
    if config is None:
        raise ConfigError([("provider", f"the plugin for {provider!r} "
                            f"({available[provider].distribution}) did not answer configure")])
    if not isinstance(config, ProviderConfig) or config.provider != provider:
        raise ConfigError([("provider", f"the plugin for {provider!r} returned "
                            f"{type(config).__name__}, not a ProviderConfig for {provider!r}")])
    return Account(name, provider, config, region)


def _installed(registry: PluginRegistry) -> str:
    return ", ".join(registry.providers()) or "(none)"
