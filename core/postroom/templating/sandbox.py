"""The Jinja environment templates run in: sandboxed, strict, with size caps.

Templates are edited by admins, so they are untrusted code. Jinja's
``ImmutableSandboxedEnvironment`` refuses attributes that lead to Python's
internals (``__class__``, ``__globals__``, ``mro``, ``str.format`` tricks),
calls that change lists or dicts, and ranges above 100,000 items. On top of
that this module caps what a template can build: ``*`` on text or lists,
``**`` on large integers, and the length of a rendered part. These caps stop
the accidental and the obvious; they do not bound CPU time, as a template
can still loop or recurse slowly.

Undefined variables raise (``StrictUndefined``) instead of printing nothing,
and only ``.html`` files are autoescaped, so user values are escaped in the
html part and left as they are in the subject, text and SMS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, Template, select_autoescape
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment, SecurityError

MAX_PART_CHARS = 1_000_000
"""Longest rendered part, in characters."""
MAX_SEQUENCE = MAX_RANGE
"""Longest text or list a ``*`` may build (the same bound Jinja puts on ``range``)."""
MAX_POWER_BITS = 4096
"""Largest integer, in bits, a ``**`` may build."""


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with ``*`` and ``**`` checked before they run."""

    # Intercepted operators are also kept out of compile-time constant folding,
    # so '{{ "x" * 10**9 }}' is checked too.
    intercepted_binops = frozenset({"*", "**"})

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
        return super().call_binop(context, operator, left, right)


def make_environment(directory: Path, filters: Mapping[str, Callable]) -> Sandbox:
    """One environment for a template folder: built once, its compiled templates cached.

    Jinja reloads a template whose file changed, so admins' edits apply to
    the next message without a restart.
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
    return env


def render_capped(template: Template, values: Mapping[str, object]) -> str:
    """Render ``template`` as it streams, stopping at ``MAX_PART_CHARS``."""
    chunks: list[str] = []
    size = 0
    for chunk in template.generate(values):
        size += len(chunk)
        if size > MAX_PART_CHARS:
            raise SecurityError(f"the output is longer than {MAX_PART_CHARS:,} characters")
        chunks.append(chunk)
    return "".join(chunks)
