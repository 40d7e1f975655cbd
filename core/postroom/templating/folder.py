"""Where a template's words live: one folder per template, one file per part.

::

    templates/
      reminder/             the template "reminder"
        subject.txt         email subject
        text.txt            email text body
        html.html           email html body (autoescaped)
        calendar.ics        optional: a calendar invitation sent with the email
        sms.txt             SMS body
      reminder.fr/          French version; pt-BR would be reminder.pt-BR/
      _layouts/ _partials/  anything in a folder starting with "_" is shared
      _signature/           text.txt and html.html appended to every email
      _images/              images the html shows inline: <img src="cid:logo.png">
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from attrs import frozen

from postroom.messages import Channel
from postroom.templating.errors import TemplateError

Part = Literal["subject", "text", "html", "sms", "calendar"]

PART_FILES: dict[Part, str] = {
    "subject": "subject.txt",
    "text": "text.txt",
    "html": "html.html",
    "sms": "sms.txt",
    "calendar": "calendar.ics",   # an invitation sent beside the email's body
}
EMAIL_PARTS: tuple[Part, ...] = ("subject", "text", "html")
SIGNATURE = "_signature"
IMAGES = "_images"
"""Where the images an html part shows with ``<img src="cid:logo.png">`` live."""

# Bounded, so a name or locale never makes a path longer than the system takes.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}\Z")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,4}\Z")


def normalise_locale(value: str) -> str:
    """``pt_br`` → ``pt-BR``: the spelling locale folders are named with.

    Raises ``ValueError`` for text that is not a locale tag, which also keeps
    anything path-like out of the file names a locale becomes part of.
    """
    if not isinstance(value, str) or not _LOCALE.match(value):
        raise ValueError(f"{value!r} is not a locale; write a language code such as "
                         "'fr', or language and region such as 'pt-BR'")
    language, *rest = re.split(r"[-_]", value)
    subtags = [s.upper() if len(s) == 2 else s.title() if len(s) == 4 else s for s in rest]
    return "-".join([language.lower(), *subtags])


def locale_chain(locale: str | None) -> tuple[str | None, ...]:
    """The versions to try, most specific first: ``pt-BR`` → ``pt-BR, pt, base``.

    ``None`` stands for the base version (the folder without a locale).
    """
    if locale is None:
        return (None,)
    subtags = locale.split("-")
    return (*("-".join(subtags[:n]) for n in range(len(subtags), 0, -1)), None)


def check_name(name: str) -> str:
    """Refuse names that are not a template's: paths, locales, shared folders."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise TemplateError(str(name)[:100], "not a template name: use up to 100 letters, "
                                             "digits, '-' and '_' (a locale goes in the "
                                             "recipient, not the name)")
    return name


def missing_for(parts: frozenset[Part], channel: Channel) -> str | None:
    """What ``parts`` lack to make a ``channel`` message, said for the admin; None if nothing.

    SMS needs ``sms.txt``; email needs ``subject.txt`` and a body,
    ``text.txt`` or ``html.html`` or both.
    """
    if channel == "sms":
        lacking = [] if "sms" in parts else ["sms part (sms.txt)"]
    else:
        lacking = [] if "subject" in parts else ["email subject (subject.txt)"]
        if "text" not in parts and "html" not in parts:
            lacking.append("email body (text.txt or html.html)")
    return "no " + " and no ".join(lacking) if lacking else None


@frozen
class Variant:
    """One version of a template: ``reminder`` (base) or ``reminder.fr``, and its parts."""

    template: str
    locale: str | None
    parts: frozenset[Part]

    @property
    def folder(self) -> str:
        return self.template if self.locale is None else f"{self.template}.{self.locale}"

    def file(self, part: Part) -> str:
        """The part's file as the template loader names it: ``reminder.fr/text.txt``."""
        return f"{self.folder}/{PART_FILES[part]}"

    def serves(self, channel: Channel) -> bool:
        return missing_for(self.parts, channel) is None


class TemplateFolder:
    """The template directory: which templates, versions and parts exist.

    It reads the disk on each question rather than keeping a listing, so a
    file an admin adds is used from the next message on.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    def variant(self, template: str, locale: str | None) -> Variant | None:
        """The version of ``template`` for exactly ``locale``, or None when there is none."""
        found = Variant(template, locale, frozenset())
        where = self.directory / found.folder
        if not where.is_dir():
            return None
        parts = frozenset(p for p, f in PART_FILES.items() if (where / f).is_file())
        return Variant(template, locale, parts)

    def resolve(self, template: str, locale: str | None, channel: Channel) -> Variant:
        """The first version along the locale chain that can make a ``channel`` message.

        A version is used whole or not at all, so one message never mixes
        languages; a French folder with only ``sms.txt`` serves French SMS
        while French email falls back to the base version.
        """
        check_name(template)
        chain = [self.variant(template, step) for step in locale_chain(locale)]
        for variant in chain:
            if variant is not None and variant.serves(channel):
                return variant
        base = chain[-1]
        if base is None:
            names = self.names()
            close = difflib.get_close_matches(template, names, n=1)
            raise TemplateError(template, "no such template in the template folder"
                                + (f"; did you mean {close[0]!r}?" if close else "")
                                + f"; templates there: {', '.join(names) or '(none)'}")
        raise TemplateError(template, f"cannot be sent by {channel}: "
                                      f"{missing_for(base.parts, channel)}; add it to "
                                      f"the {template} folder")

    def find(self, template: str, locale: str | None, part: Part) -> str | None:
        """The file of ``part`` in the first version along the locale chain that has it."""
        for step in locale_chain(locale):
            variant = self.variant(template, step)
            if variant is not None and part in variant.parts:
                return variant.file(part)
        return None

    def _listing(self) -> Iterator[tuple[str, tuple[str, str | None] | None]]:
        """Each template folder's name with its (template, locale), None if misnamed."""
        for path in sorted(self.directory.iterdir()):
            if path.is_dir() and not path.name.startswith(("_", ".")):
                yield path.name, _parse_folder(path.name)

    def names(self) -> list[str]:
        """The templates there are (base names, without locales)."""
        return sorted({parsed[0] for _, parsed in self._listing() if parsed})

    def versions(self, template: str) -> list[Variant]:
        """Every version of ``template`` there is: the base one first, then by locale."""
        found = [self.variant(*parsed) for _, parsed in self._listing()
                 if parsed and parsed[0] == template]
        return sorted((v for v in found if v), key=lambda v: v.locale or "")

    def misnamed(self) -> list[str]:
        """Folders that are neither templates nor shared, so never used: likely typos."""
        return [name for name, parsed in self._listing() if parsed is None]

    def shared_files(self) -> Iterator[str]:
        """Layouts, includes, signatures: ``.txt`` and ``.html`` files under ``_`` folders."""
        for top in sorted(self.directory.iterdir()):
            if top.is_dir() and top.name.startswith("_"):
                for path in sorted(top.rglob("*")):
                    if path.is_file() and path.suffix in (".txt", ".html"):
                        yield path.relative_to(self.directory).as_posix()


def _parse_folder(name: str) -> tuple[str, str | None] | None:
    template, dot, locale = name.partition(".")
    if not _NAME.match(template):
        return None
    if not dot:
        return template, None
    try:
        spelled = normalise_locale(locale)
    except ValueError:
        return None
    # Lookups use the normal spelling, so "reminder.pt-br" would never be found.
    return (template, locale) if spelled == locale else None
