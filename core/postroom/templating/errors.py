"""``TemplateError``: what went wrong in a template, worded for the admin who edits it."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SecurityError

from postroom.errors import PostroomError


class TemplateError(PostroomError):
    """A template cannot be rendered or used as asked.

    ``template`` is the template folder (``reminder``, ``reminder.fr``),
    ``part`` the part being rendered (``text``), ``file`` the file at fault
    when it is not the part's own (a layout or an include), ``line`` its line
    when known, ``problem`` what is wrong and what to do about it.
    """

    def __init__(self, template: str, problem: str, *, part: str | None = None,
                 file: str | None = None, line: int | None = None) -> None:
        self.template = template
        self.part = part
        self.file = file
        self.line = line
        self.problem = problem
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.template} ({self.part} part)" if self.part else self.template
        if self.file:
            where += f", in {self.file}"
        if self.line:
            where += f", line {self.line}"
        return f"{where}: {self.problem}"


def _in_folder(filename: str | None, directory: Path) -> str | None:
    """``filename`` relative to the template folder, or None when it lies elsewhere."""
    if not filename:
        return None
    try:
        return Path(filename).relative_to(directory).as_posix()
    except ValueError:
        return None


def _innermost_template_line(tb: TracebackType | None, directory: Path) -> tuple[str, int] | None:
    # Jinja rewrites tracebacks so a template's frames carry its file and line;
    # the last such frame is where the failure happened (a layout, an include).
    found = None
    while tb is not None:
        name = _in_folder(tb.tb_frame.f_code.co_filename, directory)
        if name is not None:
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _problem(exc: Exception) -> str:
    if isinstance(exc, SecurityError):
        return f"the sandbox refused it: {exc.message}"
    if isinstance(exc, UndefinedError):
        return f"{exc.message} — pass it in the context or remove it from the template"
    if isinstance(exc, TemplateSyntaxError):
        return f"syntax error: {exc.message}"
    if isinstance(exc, TemplateNotFound):
        return (f"there is no file {exc.name!r} in the template folder "
                "(named by an extends, include or import)")
    if isinstance(exc, OverflowError) and "MAX_RANGE" in str(exc):
        return f"the sandbox refused it: {exc}"
    return f"{exc}" if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"


def explain(exc: Exception, template: str, part: str, own_file: str,
            directory: Path) -> TemplateError:
    """Turn whatever rendering ``part`` of ``template`` raised into a ``TemplateError``.

    ``own_file`` is the part's file (``reminder/text.txt``); the error names
    another file only when the failure lies in a layout or an include.
    """
    if isinstance(exc, TemplateSyntaxError):
        located = (_in_folder(exc.filename, directory) or exc.name or own_file, exc.lineno)
    else:
        located = _innermost_template_line(exc.__traceback__, directory)
    file, line = located if located else (own_file, None)
    return TemplateError(template, _problem(exc), part=part,
                         file=None if file == own_file else file, line=line)
