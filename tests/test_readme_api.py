"""Every name the README's Python examples use from postroom is importable from ``postroom``."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import postroom

README = (Path(__file__).parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_import_the_readme_shows_works():
    imports = [m for block in BLOCKS
               for m in re.finditer(r"^from (postroom[\w.]*) import (.+)$", block, re.MULTILINE)]
    assert len(imports) >= 4
    for found in imports:
        module = importlib.import_module(found.group(1))
        for name in (n.strip() for n in found.group(2).split(",")):
            assert hasattr(module, name), f"README: from {found.group(1)} import {name}"


def test_the_python_api_section_uses_only_names_postroom_exports():
    [block, *_] = re.findall(r"```python\n(.*?)```", section("Python API"), re.DOTALL)
    [line] = re.findall(r"^from postroom import (.+)$", block, re.MULTILINE)
    imported = {name.strip() for name in line.split(",")}
    # Classes the examples call: each must be imported by the example, from postroom.
    called = set(re.findall(r"\b([A-Z]\w+)[.(]", block))
    assert called == imported
    assert imported <= set(postroom.__all__)
