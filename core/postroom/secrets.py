"""Secrets: values that must never be printed, logged or kept in a repr.

In configuration a secret is written as a literal string, as
``{ env = "VAR" }`` (read from the environment) or ``{ file = "path" }``
(read from a file, trailing newline dropped). Only ``reveal()`` hands out
the value, and only provider code that talks to the server should call it.

``scrub`` blanks secrets out of text that came from elsewhere (a server's
error reply, an exception): as written, URL-encoded, and inside base64, the
way SMTP AUTH and HTTP Basic authentication carry them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import quote, quote_plus

import attrs

from postroom.errors import ConfigError
from postroom.files import UnreadableFile, read_regular_file

MAX_SECRET_FILE_BYTES = 64 * 1024
"""Largest secret file read: a password, key or token, not a disk image."""
WHOLE_WORD_BELOW = 8
"""Secrets shorter than this are blanked only where they stand as a whole word: blanking a
one-letter secret inside every word would wreck the text, and show the secret by its gaps."""


class Secret:
    """A value that prints as ``***`` wherever it ends up."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str = "code") -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        """The secret itself: pass it to the server, never to a log."""
        return self._value

    @property
    def source(self) -> str:
        """Where the value came from (``env OFFICE_PASSWORD``), safe to show."""
        return self._source

    def __repr__(self) -> str:
        return f"Secret(<from {self._source}>)"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):
        # Pickling would copy the value into caches and queues; refuse loudly.
        raise TypeError("a Secret cannot be pickled")


def resolve_secret(raw: object, base_dir: Path, environ: Mapping[str, str]) -> Secret:
    """Turn a configured secret reference into a ``Secret``.

    Raises ``ConfigError`` with an empty path (the caller knows the field);
    the message never contains the secret itself.
    """
    if isinstance(raw, Secret):
        return raw
    if isinstance(raw, str):
        return Secret(raw, "config")
    if isinstance(raw, Mapping) and len(raw) == 1:
        (kind, where), = raw.items()
        if kind == "env" and isinstance(where, str):
            if where not in environ:
                raise ConfigError([("", f"environment variable {where} is not set; "
                                        "export it before running postroom")])
            value = environ[where]
            if not _is_text(value):
                raise ConfigError([("", f"environment variable {where} is not valid UTF-8 "
                                        "text; set it again as text")])
            return Secret(value, f"env {where}")
        if kind == "file" and isinstance(where, str):
            path = (base_dir / where).expanduser()
            return Secret(_read_secret_file(path).rstrip("\r\n"), f"file {path}")
    raise ConfigError([("", 'expected a string, { env = "VAR" } or { file = "path" }')])


def _is_text(value: str) -> bool:
    # Bytes that are not UTF-8 reach Python as lone surrogates (PEP 383).
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_secret_file(path: Path) -> str:
    """The text of a secret file; a pipe, device, folder, huge or binary file is refused."""
    try:
        data = read_regular_file(path, MAX_SECRET_FILE_BYTES)
    except UnreadableFile as exc:
        raise ConfigError([("", f"cannot read secret file {path}: {exc.reason}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([("", f"cannot read secret file {path}: it is not UTF-8 text; a "
                                "secret file holds only the secret, as text")]) from None


def secret_values(settings: object) -> list[str]:
    """Every ``Secret`` value in an attrs settings object, nested ones included:
    what ``scrub`` should blank from texts about that account."""
    return [value for value in _revealed(settings, set()) if value]


def _revealed(item: object, seen: set[int]) -> Iterator[str]:
    if id(item) in seen:
        return
    seen.add(id(item))
    if isinstance(item, Secret):
        yield item.reveal()
    elif attrs.has(type(item)):
        for attribute in attrs.fields(type(item)):
            yield from _revealed(getattr(item, attribute.name), seen)
    elif isinstance(item, Mapping):
        for value in item.values():
            yield from _revealed(value, seen)
    elif isinstance(item, list | tuple):
        for value in item:
            yield from _revealed(value, seen)


def _base64_cores(raw: bytes) -> set[str]:
    """What any base64 text that decodes to bytes holding ``raw`` contains, in both
    alphabets: ``raw`` encoded at each of the three offsets within a group, less
    the characters it shares with the bytes around it."""
    cores = set()
    for offset, shared in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(bytes(offset) + raw).decode().rstrip("=")
        core = encoded[shared:len(encoded) - (1 if (offset + len(raw)) % 3 else 0)]
        cores |= {core, core.translate(str.maketrans("+/", "-_"))}
    return cores


class _Scrubber:
    """What ``scrub`` needs for one set of secrets, worked out once: their
    spellings, longest first, a pattern for the runs of base64 long enough to
    decode to the shortest of them, and what a run must contain to hold one
    (a run without it is not worth decoding)."""

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = list(values)
        shortest = min(len(secret.encode("utf-8")) for secret in values)
        self.runs = re.compile(rf"[A-Za-z0-9+/_-]{{{max(2, -(-4 * shortest // 3))},}}={{0,2}}")
        self.cores = {core for secret in values for core in _base64_cores(secret.encode())}
        forms = {form for secret in values
                 for form in (secret, quote(secret, safe=""), quote_plus(secret))}
        self.forms = [(form, None) if len(form) >= WHOLE_WORD_BELOW else
                      (form, re.compile(rf"(?<!\w){re.escape(form)}(?!\w)"))
                      for form in sorted(forms, key=len, reverse=True)]

    def __call__(self, text: str) -> str:
        # Most texts hold no secret in any form: substring checks say so cheaply.
        if any(core in text for core in self.cores):
            text = self.runs.sub(self._run, text)
        for form, whole_word in self.forms:
            if form in text:
                text = text.replace(form, "***") if whole_word is None else \
                    whole_word.sub("***", text)
        return text

    def _run(self, found: re.Match[str]) -> str:
        run = found.group()
        if any(core in run for core in self.cores) and _hides_secret(run, self.values):
            return "***"
        return run


@functools.lru_cache(maxsize=64)
def _scrubber(values: tuple[str, ...]) -> _Scrubber:
    return _Scrubber(values)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``.

    Each secret is blanked as written and URL-encoded (longer spellings
    first, so a secret inside another leaves no piece), and every run of
    base64 that decodes to text holding a secret is blanked whole: the
    secret alone (AUTH LOGIN), ``\\0user\\0secret`` (AUTH PLAIN) or
    ``user:secret`` (HTTP Basic), whoever the user. A secret shorter than
    ``WHOLE_WORD_BELOW`` characters is blanked only as a whole word.
    """
    values = tuple(sorted({s for s in secrets if s}, key=lambda s: (-len(s), s)))
    if not values or not text:
        return text
    return _scrubber(values)(text)


def _hides_secret(run: str, secrets: list[str]) -> bool:
    """Whether a run of base64 characters decodes to text that holds a secret."""
    for decoded in _decodings(run):
        for secret in secrets:
            raw = secret.encode("utf-8")
            if len(raw) >= WHOLE_WORD_BELOW and raw in decoded:
                return True
            # A short secret only as a whole credential: alone, or after the
            # user and a NUL (AUTH PLAIN) or a colon (HTTP Basic).
            if decoded == raw or decoded.endswith((b"\0" + raw, b":" + raw)):
                return True
    return False


def _decodings(run: str) -> Iterator[bytes]:
    # The run may start mid-word ("AUTHAGFubg..."), so every offset of a quantum is tried.
    body = run.rstrip("=")
    for start in range(4):
        chunk = body[start:]
        chunk = chunk[:len(chunk) - 1] if len(chunk) % 4 == 1 else chunk
        for alphabet in (b"+/", b"-_"):
            try:
                yield base64.b64decode(chunk + "=" * (-len(chunk) % 4), altchars=alphabet)
            except (binascii.Error, ValueError):
                continue
