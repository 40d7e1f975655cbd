"""Typed settings: what a plugin's config class is built from, and how.

A provider plugin describes its settings as an attrs class deriving from
``ProviderConfig`` and turns the raw table from ``postroom.toml`` into it with
``context.structure(settings, MyConfig)``. The converter is strict (a string
is not an integer, an unknown key is an error) and every error names the
setting's path and what was expected, so the admin can fix it at once.

Field types with checks built in: ``Port``, ``Seconds`` (above 0),
``SecondsOrZero``, ``PositiveInt``, ``Count`` (from 0), ``Lanes`` (batches at once), ``PerSecond``
(a rate), ``Days``, ``EmailAddress``, ``Region``, ``Secret``, ``pathlib.Path``
(relative to the config file), ``Literal[...]`` choices and enums. Every number has a range:
``float`` and ``Decimal`` settings must be finite (no ``nan`` or ``inf``),
and each numeric type has the bounds in ``RANGES``, so a value that would
break the scheduler or the store later is refused when the file is read.
"""

from __future__ import annotations

import difflib
import enum
import json
import math
import typing
from collections.abc import Mapping, Sequence
from datetime import date, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, NewType, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from postroom.addresses import email_address, region_code
from postroom.errors import ConfigError, join_path
from postroom.messages import Channel
from postroom.scheduling import parse_days
from postroom.secrets import Secret, resolve_secret

if TYPE_CHECKING:
    from postroom.messages import Message

Port = NewType("Port", int)
Seconds = NewType("Seconds", float)
SecondsOrZero = NewType("SecondsOrZero", float)
PositiveInt = NewType("PositiveInt", int)
Count = NewType("Count", int)
Lanes = NewType("Lanes", int)
PerSecond = NewType("PerSecond", float)
Days = NewType("Days", float)
EmailAddress = NewType("EmailAddress", str)
Region = NewType("Region", str)

T = TypeVar("T")


DEFAULT_MAX_MESSAGE_SIZE: Mapping[str, int] = {"email": 25 * 1024 * 1024, "sms": 1600}
"""The largest message an account takes when neither it nor its provider says: 25 MiB of
email (what the big mail services accept), 1600 characters of SMS (ten segments and more)."""


class ProviderConfig:
    """Base class of every provider's typed config.

    Subclasses are attrs classes and set two class variables: ``provider``,
    the provider name accounts choose it by (``"smtp"``), and ``channel``,
    ``"email"`` or ``"sms"``: the kind of message its ``send`` takes.
    """

    provider: ClassVar[str]
    channel: ClassVar[Channel]
    #: The largest message the provider takes: an email's bodies and attachments
    #: in bytes (before encoding), an SMS's text in characters. ``None`` leaves
    #: the channel's default (``DEFAULT_MAX_MESSAGE_SIZE``); an account's own
    #: ``max_message_size`` setting wins over both.
    max_message_size: ClassVar[int | None] = None
    #: What the engine does before a bulk send that, with the account's messages
    #: already queued, costs more than the balance (``credits_needed`` against
    #: ``postroom_credits``): ``"refuse"`` it, ``"hold"`` it (queue it with the
    #: account paused) or ``"off"``.
    preflight: Literal["refuse", "hold", "off"] = "off"

    def credits_needed(self, messages: Sequence[Message]) -> Decimal | None:
        """What sending ``messages`` would cost, in the unit ``postroom_credits``
        reports, or None when the provider cannot tell before sending.

        Also called with messages reloaded from the outbox, which keep their
        text and recipients but not an ``SmsMessage``'s ``region``.
        """
        return None

    def sends_as(self) -> str | None:
        """Who the account's messages come from: an email address, an SMS sender.

        The outbox records it per account, so that another configuration
        sharing the database cannot send this one's messages under its own
        sender. By default the address of a ``from_address`` property, else a
        ``sender`` setting that is text; None when neither is there.
        """
        address = getattr(self, "from_address", None)
        if address is not None:
            return str(getattr(address, "email", address))
        sender = getattr(self, "sender", None)
        return sender if isinstance(sender, str) else None

    def limits(self) -> Mapping[str, object]:
        """Limits the provider imposes on this account, as schedule settings.

        For example ``{"daily_cap": 500}`` for a Gmail account or
        ``{"per_second": 30}`` for an SMS API (also ``per_minute``,
        ``per_hour``, ``burst``, ``min_gap``). The store enforces them across
        every worker, together with the account's own ``[accounts.NAME.schedule]``:
        where both set a limit the tighter one wins. A plugin declares its
        provider's limits here and never paces by itself.
        """
        return {}

    def schedule_defaults(self) -> Mapping[str, object]:
        """Defaults for the account's schedule that its own settings override
        (unlike ``limits``); for plugins written before ``limits`` existed."""
        return {}


class Weekdays(frozenset):
    """Days of the week (Monday is 0), written ``"mon-fri"`` or ``"sat,sun"``."""


class InvalidSetting(ValueError):
    """Raised by a check that knows which setting is wrong (``name``)."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"{name}: {message}")


SHOWN_CHARS = 60
"""Longest quote of a value in an error message; a longer one is cut with "…"."""


def shown(value: object) -> str:
    """A value as an error message quotes it: ``"abc"``, ``70000``."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…"


MAX_SECONDS = 30 * 86400
"""Longest duration a setting takes (30 days): a lease, poll or pause of months is a typo."""
MAX_COUNT = 1_000_000_000
"""Largest count (a rate per minute, a daily cap, a batch): far above any provider's limit,
and small enough for the store's integers."""
MAX_LANES = 64
"""Most batches one worker sends at once: each is a thread and a connection."""
MIN_PER_SECOND = 0.001
MAX_PER_SECOND = 10_000.0
"""Slowest (one every 1000 s) and fastest rate a ``PerSecond`` setting takes."""
MAX_DAYS = 3660.0
"""Longest span in days (ten years), as far as estimates look ahead."""
MAX_AMOUNT = Decimal(10) ** 12
"""Largest amount (a price, a balance threshold)."""


@attrs.frozen
class Range:
    """The values a numeric setting type takes: ``low`` to ``high``, ``low``
    itself excluded when ``above``; ``says`` is how an error words it."""

    kinds: tuple[type, ...]
    low: float
    high: float
    says: str
    above: bool = False

    def holds(self, value: float) -> bool:
        # nan fails both comparisons, inf the upper bound.
        low_ok = value > self.low if self.above else value >= self.low
        return low_ok and value <= self.high


RANGES: dict[object, Range] = {
    Port: Range((int,), 1, 65535, "an integer 1-65535"),
    Seconds: Range((int, float), 0, MAX_SECONDS,
                   f"a number of seconds above 0 and at most {MAX_SECONDS} (30 days)",
                   above=True),
    SecondsOrZero: Range((int, float), 0, MAX_SECONDS,
                         f"a number of seconds from 0 to {MAX_SECONDS} (30 days)"),
    PositiveInt: Range((int,), 1, MAX_COUNT,
                       f"a whole number above 0 and at most {MAX_COUNT:,}"),
    Count: Range((int,), 0, MAX_COUNT, f"a whole number from 0 to {MAX_COUNT:,}"),
    Lanes: Range((int,), 1, MAX_LANES, f"a whole number from 1 to {MAX_LANES}"),
    PerSecond: Range((int, float), MIN_PER_SECOND, MAX_PER_SECOND,
                     f"a number above 0: from {MIN_PER_SECOND:g} to {MAX_PER_SECOND:g} a second "
                     "(slower rates go in per_hour)"),
    Days: Range((int, float), 0, MAX_DAYS, f"a number of days above 0 and at most "
                f"{MAX_DAYS:g}", above=True),
}
"""Every numeric setting type and its bounds."""


def _type_name(cls: object) -> str:
    if cls in RANGES:
        return RANGES[cls].says
    names = {str: "text", int: "an integer", float: "a number", bool: "true or false",
             Path: "a file or folder path", Decimal: "an amount such as 0.05"}
    return names.get(cls, getattr(cls, "__name__", str(cls)))


def _strict(cls: type, accepts: tuple[type, ...], check=None):
    def structure(value, _):
        if isinstance(value, bool) and bool not in accepts:
            raise ValueError(f"expected {_type_name(cls)}, got {shown(value)}")
        if not isinstance(value, accepts):
            raise ValueError(f"expected {_type_name(cls)}, got {shown(value)}")
        return check(value) if check else value
    return structure


def _as_float(value: float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        return math.inf


def _finite(value: float) -> float:
    # nan passes every comparison check and inf every lower bound: refuse both outright.
    number = _as_float(value)
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {shown(value)}")
    return number


def _whole(value: int) -> int:
    # Anything larger does not fit the store's 64-bit integers.
    if abs(value) >= 2**63:
        raise ValueError(f"expected an integer of at most 18 digits, got {shown(value)}")
    return value


def _ranged(cls: object):
    bounds = RANGES[cls]

    def check(value):
        number = _as_float(value) if float in bounds.kinds else value
        if not bounds.holds(number):
            raise ValueError(f"expected {bounds.says}, got {shown(value)}")
        return number
    return _strict(cls, bounds.kinds, check)


def _decimal(value: int | float | str) -> Decimal:
    try:
        # Through str, so 0.07 stays 0.07 and not its binary approximation.
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
        raise ValueError(f'expected an amount such as 0.05 or "0.05" (0 or more, at most '
                         f'{MAX_AMOUNT:,.0f}), got {shown(value)}')
    return amount


def _clock_time(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f'expected a time of day such as "08:00", got {shown(value)}') from None


def _date(value: str | date) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):  # TOML's own dates too
        return value
    try:
        return date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f'expected a date such as 2026-12-03, got {shown(value)}') from None


def _zone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'expected a time zone such as "Europe/London", got {shown(value)}'
                         ) from None


def make_converter(base_dir: Path, environ: Mapping[str, str]) -> cattrs.Converter:
    """The strict converter settings are structured with."""
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(str, _strict(str, (str,)))
    conv.register_structure_hook(int, _strict(int, (int,), _whole))
    conv.register_structure_hook(float, _strict(float, (int, float), _finite))
    conv.register_structure_hook(bool, _strict(bool, (bool,)))
    for numeric in RANGES:
        conv.register_structure_hook(numeric, _ranged(numeric))
    conv.register_structure_hook(EmailAddress, _strict(str, (str,), email_address))
    conv.register_structure_hook(Region, _strict(str, (str,), region_code))
    conv.register_structure_hook(
        Path, _strict(Path, (str, Path), lambda v: (base_dir / Path(v).expanduser()))
    )
    conv.register_structure_hook(Secret, lambda v, _: resolve_secret(v, base_dir, environ))
    conv.register_structure_hook(Decimal, _strict(Decimal, (int, float, str), _decimal))
    conv.register_structure_hook(time, _strict(str, (str,), _clock_time))
    conv.register_structure_hook(date, lambda v, _: _date(v))
    conv.register_structure_hook(ZoneInfo, _strict(str, (str,), _zone))
    conv.register_structure_hook(Weekdays, _strict(str, (str,), lambda v: Weekdays(parse_days(v))))

    def is_literal(t) -> bool:
        return typing.get_origin(t) is typing.Literal

    def structure_literal(value, t):
        choices = typing.get_args(t)
        if value not in choices or isinstance(value, bool):
            raise ValueError("expected one of {}, got {}".format(
                ", ".join(shown(c) for c in choices), shown(value)))
        return value

    conv.register_structure_hook_func(is_literal, structure_literal)

    def is_enum(t) -> bool:
        return isinstance(t, type) and issubclass(t, enum.Enum)

    def structure_enum(value, t):
        try:
            return t(value)
        except ValueError:
            raise ValueError("expected one of {}, got {}".format(
                ", ".join(shown(m.value) for m in t), shown(value))) from None

    conv.register_structure_hook_func(is_enum, structure_enum)
    return conv


def _issues(exc: BaseException, path: str):
    """Walk cattrs' nested errors into ``(path, message)`` pairs."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            name = getattr(note, "name", None)
            if name is None and isinstance(note.index, str):
                name = note.index  # a key of a table: recurring.report.at, as the file reads
            where = join_path(path, name) if name is not None else f"{path}[{note.index!r}]"
            yield from _issues(inner, where)
        for inner in without:
            yield from _issues(inner, path)
    elif isinstance(exc, ForbiddenExtraKeysError):
        known = [a.name for a in attrs.fields(exc.cl)]
        for key in sorted(exc.extra_fields):
            close = difflib.get_close_matches(key, known, n=1)
            more = f"; did you mean {close[0]!r}?" if close else (
                "; known settings: " + ", ".join(known))
            yield join_path(path, key), "unknown setting" + more
    elif isinstance(exc, KeyError):
        yield path, "required setting is missing"
    elif isinstance(exc, InvalidSetting):
        yield join_path(path, exc.name), exc.message
    elif isinstance(exc, ConfigError):
        for inner_path, message in exc.issues:
            yield join_path(path, inner_path), message
    elif isinstance(exc, ValueError | TypeError | AttributeError):
        text = str(exc)
        if isinstance(exc, AttributeError) and "items" in text:
            text = "expected a table of settings"
        yield path, text
    else:
        raise exc


def structure(settings: object, cls: type[T], converter: cattrs.Converter) -> T:
    """Build ``cls`` from raw settings, raising ``ConfigError`` with relative paths."""
    if not isinstance(settings, Mapping):
        raise ConfigError([("", f"expected a table of settings, got {shown(settings)}")])
    try:
        return converter.structure(dict(settings), cls)
    except Exception as exc:
        issues = list(_issues(exc, ""))
        raise ConfigError(issues) from None


@attrs.define
class ConfigContext:
    """What ``postroom_configure`` gets besides the raw settings.

    ``account`` is the account's name, ``base_dir`` the config file's folder
    (relative paths are read from there), ``region`` the default region for
    phone numbers. Call ``structure(settings, MyConfig)`` to build the typed
    config with postroom's checks and error paths.
    """

    account: str
    base_dir: Path
    region: str | None = None
    environ: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    _converter: cattrs.Converter | None = attrs.field(default=None, repr=False, alias="converter")

    @property
    def converter(self) -> cattrs.Converter:
        if self._converter is None:
            self._converter = make_converter(self.base_dir, self.environ)
        return self._converter

    def structure(self, settings: Mapping[str, object], cls: type[T]) -> T:
        """Turn ``settings`` into ``cls``; a ``ConfigError`` names each bad setting."""
        return structure(settings, cls, self.converter)


def at_most(limit: int):
    """An attrs validator: the setting may be at most ``limit`` (None passes)."""
    def validate(instance, attribute, value) -> None:
        if value is not None and value > limit:
            raise InvalidSetting(attribute.name, f"expected at most {limit}, got {value}")
    return validate


def check(name: str, ok: bool, message: str) -> None:
    """Raise ``InvalidSetting`` for ``name`` unless ``ok``: for checks across fields."""
    if not ok:
        raise InvalidSetting(name, message)
