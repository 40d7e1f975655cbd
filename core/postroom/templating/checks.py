"""Offline checks of a template folder, for ``postroom validate``.

Every part file and every ``.txt``/``.html`` file in a shared folder is
compiled (syntax errors come with their line); each layout or include a
file names must exist; a version with any email part must be a whole email;
files that are not parts are pointed out (a misspelt ``subjet.txt`` would
otherwise be silently ignored); and each template listed in
``[templates.channels]`` must have the parts of the channels it is sent by.
Problems name the file or folder relative to the template directory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from jinja2 import TemplateNotFound, TemplateSyntaxError, meta

from postroom.messages import Channel
from postroom.results import Problem
from postroom.templating.errors import TemplateError, explain
from postroom.templating.folder import (
    EMAIL_PARTS,
    IMAGES,
    PART_FILES,
    SIGNATURE,
    TemplateFolder,
    Variant,
    missing_for,
)
from postroom.templating.render import cid_references
from postroom.templating.sandbox import Sandbox


def _compile(env: Sandbox, folder: TemplateFolder, file: str) -> Iterator[Problem]:
    try:
        env.get_template(file)
        source, _, _ = env.loader.get_source(env, file)
        # Only names written as plain strings can be checked before rendering.
        references = [n for n in meta.find_referenced_templates(env.parse(source)) if n]
    except TemplateSyntaxError as exc:
        error = explain(exc, file.split("/", 1)[0], "", file, folder.directory)
        where = f"line {error.line}: " if error.line else ""
        yield Problem.error(file, where + error.problem)
        return
    for name in references:
        try:
            env.loader.get_source(env, name)
        except TemplateNotFound:
            yield Problem.error(file, f"refers to {name!r}, which is not in the template "
                                      "folder", "create that file or correct the name")
    if file.endswith(".html"):
        for name in cid_references(source):
            if "{" not in name and not (folder.directory / IMAGES / name).is_file():
                yield Problem.error(file, f"shows cid:{name}, and there is no {IMAGES}/{name}",
                                    f"put the image in {IMAGES}/ or correct the name")


def _version_problems(env: Sandbox, folder: TemplateFolder, version: Variant) -> Iterator[Problem]:
    part_of = {file: part for part, file in PART_FILES.items()}
    for path in sorted((folder.directory / version.folder).iterdir()):
        file = f"{version.folder}/{path.name}"
        if path.name in part_of:
            yield from _compile(env, folder, file)
        elif not path.name.startswith("."):
            yield Problem.warning(file, "not a part, so it is not used",
                                  "parts are " + ", ".join(PART_FILES.values()))
    if any(part in version.parts for part in EMAIL_PARTS) and not version.serves("email"):
        yield Problem.error(version.folder, "an incomplete email: "
                            + str(missing_for(version.parts, "email")),
                            "an email needs subject.txt, and text.txt or html.html or both")


def _signature_problems(folder: TemplateFolder) -> Iterator[Problem]:
    signature = folder.variant(SIGNATURE, None)
    if signature is None:
        return
    for part, other in (("text", "html"), ("html", "text")):
        if part in signature.parts and other not in signature.parts:
            yield Problem.warning(SIGNATURE, f"no {other} signature, so {other} bodies go "
                                             "unsigned",
                                  f"add {SIGNATURE}/{PART_FILES[other]}")


def check_channel(folder: TemplateFolder, template: str, channel: Channel) -> list[Problem]:
    """Can ``template`` be sent by ``channel``? An error if not; a warning per locale
    version that cannot, since its recipients get the base version instead."""
    try:
        base = folder.resolve(template, None, channel)
    except TemplateError as exc:
        return [Problem.error(template, exc.problem)]
    return [
        Problem.warning(version.folder, f"cannot be sent by {channel}: "
                        f"{missing_for(version.parts, channel)}",
                        f"recipients with locale {version.locale} get the base version, "
                        f"{base.folder}")
        for version in folder.versions(template)
        if version.locale is not None and not version.serves(channel)
    ]


def folder_problems(folder: TemplateFolder, env: Sandbox,
                    channels: Mapping[str, Sequence[Channel]]) -> list[Problem]:
    """Everything ``validate`` reports about the template folder."""
    found = [Problem.warning(name, "not a template folder name, so it is not used",
                             "name folders with letters, digits, '-' and '_', and locale "
                             "versions NAME.LOCALE (reminder.fr, reminder.pt-BR)")
             for name in folder.misnamed()]
    for template in folder.names():
        for version in folder.versions(template):
            found.extend(_version_problems(env, folder, version))
    for file in folder.shared_files():
        found.extend(_compile(env, folder, file))
    found.extend(_signature_problems(folder))
    for template, sent_by in channels.items():
        for channel in sent_by:
            found.extend(check_channel(folder, template, channel))
    return found
