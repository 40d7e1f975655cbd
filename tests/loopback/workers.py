"""Real ``postroom worker`` processes on one outbox, started and stopped by a test.

::

    with worker_processes(config, tmp_path) as start:
        workers = [start() for _ in range(4)]
        ...
        assert stop(workers) == [0, 0, 0, 0]

Each process writes its output to ``worker-N.out`` in the folder (an unread
pipe that fills up would block it); any process still running when the block
ends is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def worker_processes(config: Path, folder: Path, env: Mapping[str, str] | None = None
                     ) -> Iterator[Callable[..., subprocess.Popen]]:
    """``start(*args)`` runs ``postroom --config CONFIG worker *args`` in a new process."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        out = (folder / f"worker-{len(started)}.out").open("w")
        process = subprocess.Popen([sys.executable, "-m", "postroom", "--config", str(config),
                                    "worker", *args], stdout=out, stderr=subprocess.STDOUT,
                                   env=None if env is None else dict(env))
        out.close()
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def stop(processes: Sequence[subprocess.Popen], timeout: float = 30) -> list[int]:
    """SIGTERM each process (each finishes the message in hand); their exit codes."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    return [process.wait(timeout=timeout) for process in processes]


def outputs(folder: Path) -> dict[str, str]:
    """What each worker of ``folder`` wrote, by file name."""
    return {path.name: path.read_text() for path in sorted(folder.glob("worker-*.out"))}


def environment(*paths: Path) -> dict[str, str]:
    """This process's environment with ``paths`` ahead on ``PYTHONPATH``."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in paths)}


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    """Return once ``condition()`` holds; fail the test after ``seconds``."""
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, f"still waiting after {seconds} s"
        time.sleep(0.05)


def smtp_config(path: Path, port: int, *, delivery: Mapping[str, object] | None = None,
                store: Mapping[str, object] | None = None,
                accounts: Mapping[str, Mapping[str, object]] | None = None) -> Path:
    """Write a ``postroom.toml`` whose accounts send to the loopback SMTP server on ``port``.

    The outbox is ``outbox.db`` beside it; ``accounts`` maps each account's name
    to its schedule (default: one account ``mail`` without limits). Each sends
    as ``NAME@example.org``, so the server tells the accounts apart.
    """
    def table(name: str, values: Mapping[str, object]) -> str:
        return f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n"
                                       for key, value in values.items())

    text = table("store", {"path": "outbox.db", **(store or {})})
    text += table("delivery", delivery or {})
    for name, schedule in (accounts or {"mail": {}}).items():
        text += table(f"accounts.{name}", {
            "provider": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
            "sender_email": f"{name}@example.org", "local_hostname": "workers.test",
            "timeout": 10})
        text += table(f"accounts.{name}.schedule", schedule)
    path.write_text(text)
    return path
