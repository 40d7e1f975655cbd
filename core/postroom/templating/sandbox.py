"""The Jinja environment templates run in: sandboxed, strict, with size caps.

Templates are edited by admins, so they are untrusted code. Jinja's
``ImmutableSandboxedEnvironment`` refuses attributes that lead to Python's
internals (``__class__``, ``__globals__``, ``mro``, ``str.format`` tricks),
calls that change lists or dicts, and ranges above 100,000 items. On top of
that this module caps what a template can build: ``*`` on text or lists,
``**`` on large integers, text or lists joined with ``~`` or ``+`` or made by
a filter or method beyond ``MAX_PART_CHARS``, widths handed to the filters
and methods that pad (``center``, ``indent``...), and the length of a
rendered part. Time is bounded too: each part renders within the time budget
``[templates] max_render_seconds`` (see ``budget``), however it loops.

Undefined variables raise (``StrictUndefined``) instead of printing nothing,
and only ``.html`` files are autoescaped, so user values are escaped in the
html part and left as they are in the subject, text and SMS.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, Template, select_autoescape
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment, SecurityError

from postroom.templating.budget import RenderTimeout, time_budget

MAX_PART_CHARS = 1_000_000
"""Longest rendered part, in characters."""
MAX_SEQUENCE = MAX_RANGE
"""Longest text or list a ``*`` may build (the same bound Jinja puts on ``range``)."""
MAX_POWER_BITS = 4096
"""Largest integer, in bits, a ``**`` may build."""
DEFAULT_RENDER_SECONDS = 2.0
"""Time budget of one part's render unless ``[templates] max_render_seconds`` says."""
PADDING = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "indent", "wordwrap",
                     "truncate", "batch", "slice"})
"""Filters and text methods whose numeric arguments set the size of what they build."""


def _sized(value: object) -> object:
    """``value``, unless it is text or a list longer than a part may be."""
    if isinstance(value, str | list | tuple) and len(value) > MAX_PART_CHARS:
        raise SecurityError(f"it would build {len(value):,} characters or items; the limit "
                            f"is {MAX_PART_CHARS:,}")
    return value


def _widths_checked(name: str, args: tuple, kwargs: Mapping[str, object]) -> None:
    """Refuse a padding width beyond ``MAX_PART_CHARS`` before the padding is built."""
    if name not in PADDING:
        return
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_PART_CHARS:
            raise SecurityError(f"{name} with {value:,} would build more than "
                                f"{MAX_PART_CHARS:,} characters")


def _bounded_filter(name: str, function: Callable) -> Callable:
    @functools.wraps(function)  # keeps jinja's pass_context marks
    def bounded(*args, **kwargs):
        # The first argument is the value filtered (or the context): only the rest set sizes.
        _widths_checked(name, args[1:], kwargs)
        return _sized(function(*args, **kwargs))
    return bounded


class _Generator(CodeGenerator):
    """Jinja's code generator with each ``~`` join checked for size."""

    def visit_Concat(self, node, frame) -> None:
        self.write("environment.joined(")
        super().visit_Concat(node, frame)
        self.write(")")


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with ``*``, ``**``, ``+``, ``~``, filters and method
    calls checked for the size of what they build, and a render time budget."""

    # Intercepted operators are also kept out of compile-time constant folding,
    # so '{{ "x" * 10**9 }}' is checked too.
    intercepted_binops = frozenset({"*", "**", "+"})
    code_generator_class = _Generator
    #: Seconds one part's render may take (``render_capped``).
    time_budget: float = DEFAULT_RENDER_SECONDS

    @staticmethod
    def joined(value: object) -> object:
        return _sized(value)

    def call(__self, __context, __obj, *args, **kwargs):
        _widths_checked(getattr(__obj, "__name__", ""), args, kwargs)
        return _sized(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context, operator: str, left, right):
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (isinstance(sequence, str | list | tuple) and isinstance(times, int)
                        and len(sequence) * times > MAX_SEQUENCE):
                    raise SecurityError(f"'*' would build {len(sequence) * times:,} items; "
                                        f"the limit is {MAX_SEQUENCE:,}")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            bits = right * abs(left).bit_length()
            if abs(left) > 1 and bits > MAX_POWER_BITS:
                raise SecurityError(f"'**' would build a number of about {bits:,} bits; "
                                    f"the limit is {MAX_POWER_BITS:,}")
        elif operator == "+":
            return _sized(super().call_binop(context, operator, left, right))
        return super().call_binop(context, operator, left, right)


def make_environment(directory: Path, filters: Mapping[str, Callable],
                     time_budget: float = DEFAULT_RENDER_SECONDS) -> Sandbox:
    """One environment for a template folder: built once, its compiled templates cached.

    Jinja reloads a template whose file changed, so admins' edits apply to
    the next message without a restart. ``time_budget`` is the seconds one
    part's render may take.
    """
    env = Sandbox(
        loader=FileSystemLoader(directory, encoding="utf-8"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=(),
                                     default_for_string=False, default=False),
        # Lines holding only a block tag ({% if %}, {% extends %}) leave no blank line.
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
    )
    # lipsum(n) builds text of any size and has no use in a notification.
    del env.globals["lipsum"]
    env.filters.update(filters)
    env.filters = {name: _bounded_filter(name, function) for name, function in env.filters.items()}
    env.time_budget = time_budget
    return env


def render_capped(template: Template, values: Mapping[str, object]) -> str:
    """Render ``template`` as it streams, stopping at ``MAX_PART_CHARS`` or at the
    environment's time budget."""
    chunks: list[str] = []
    size = 0
    budget = getattr(template.environment, "time_budget", DEFAULT_RENDER_SECONDS)
    try:
        with time_budget(budget):
            for chunk in template.generate(values):
                size += len(chunk)
                if size > MAX_PART_CHARS:
                    raise SecurityError(f"the output is longer than {MAX_PART_CHARS:,} "
                                        "characters")
                chunks.append(chunk)
    except RenderTimeout:
        raise SecurityError(f"rendering took longer than {budget:g} s "
                            "([templates] max_render_seconds); look for loops inside loops"
                            ) from None
    return "".join(chunks)
