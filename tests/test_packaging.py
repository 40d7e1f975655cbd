"""Installing the core alone, then the core plus one plugin, in fresh virtual environments.

This is what an integrator does; it proves each plugin package registers
itself and that nothing else sneaks in. Slow (real pip installs), run in CI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILTINS = {"email_file", "sms_file"}
PACKAGES = sorted([*ROOT.glob("plugins/*/pyproject.toml"),
                   ROOT / "tests/fixtures/postroom-echo/pyproject.toml"])

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def copy_project(source: Path, target: Path) -> Path:
    """Build from a copy: a build writes egg-info and build/ beside the sources."""
    skip = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "__pycache__",
                                  ".*_cache", "outbox", "plugins", "tests", "bench")
    shutil.copytree(source, target, ignore=skip)
    return target


def run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("core-only") / "venv"
    run(sys.executable, "-m", "venv", venv)
    source = copy_project(ROOT, venv.parent / "postroom")
    run(venv / "bin/python", "-m", "pip", "install", "--quiet", source)
    return venv


def providers(venv: Path) -> dict[str, dict]:
    rows = json.loads(run(venv / "bin/postroom", "plugins", "--json"))
    return {p: row for row in rows for p in row["providers"]}


def test_the_core_alone_has_only_its_builtin_providers(core_venv):
    found = providers(core_venv)
    assert set(found) == BUILTINS
    assert all(row["builtin"] for row in found.values())


def project_of(pyproject: Path) -> dict:
    return tomllib.loads(pyproject.read_text())["project"]


LOCAL = {project_of(p)["name"]: p for p in PACKAGES}


def with_local_requirements(pyproject: Path) -> list[Path]:
    """The plugin and, first, the plugins of this repository it depends on (gmail needs smtp)."""
    needed = []
    for requirement in project_of(pyproject).get("dependencies", []):
        name = requirement.split(";")[0].split("[")[0].strip(" <>=!~")
        if name in LOCAL and LOCAL[name] != pyproject:
            needed += with_local_requirements(LOCAL[name])
    return [*needed, pyproject]


@pytest.mark.parametrize("pyproject", PACKAGES, ids=lambda p: p.parent.name)
def test_the_core_plus_one_plugin_lists_exactly_that_plugin(core_venv, pyproject, tmp_path):
    packages = with_local_requirements(pyproject)
    claimed = {name: project_of(p)["name"] for p in packages
               for name in project_of(p)["entry-points"]["postroom"]}
    sources = [copy_project(p.parent, tmp_path / p.parent.name) for p in packages]
    run(core_venv / "bin/python", "-m", "pip", "install", "--quiet", *sources)
    try:
        found = providers(core_venv)
        assert set(found) == BUILTINS | set(claimed)
        for name, distribution in claimed.items():
            assert found[name]["distribution"] == distribution
            assert found[name]["status"] == "loaded"
            assert "postroom_send" in found[name]["hooks"]
    finally:
        run(core_venv / "bin/python", "-m", "pip", "uninstall", "--quiet", "-y",
            *set(claimed.values()))
    assert set(providers(core_venv)) == BUILTINS
