"""The local servers the benchmarks send to, each in a process of its own.

- ``SmtpSink``: Postfix's ``smtp-sink`` (C, PIPELINING) when it is found, else
  ``smtp_sink.py`` (asyncio, PIPELINING). Either discards what it gets and
  counts the messages; ``count()`` reads the counter.
- ``PostfixServer``: a real Postfix with Dovecot logins, the tests' private one
  (``tests/loopback/postfix.py``), whose smtpd takes each message and drops it
  at the end of DATA; ``count()`` counts them in its log. Plain or STARTTLS +
  login.
- ``NexmoSink``: ``nexmo_sink.py``, the Nexmo SMS API over HTTPS with a
  throwaway CA from trustme; ``ca_file`` is the PEM clients must trust.

Servers listen on 127.0.0.1 only and stop with the ``with`` block.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TESTS = HERE.parent / "tests"  # where the tests' loopback servers live
# Where `make smtp-sink` unpacks Postfix's smtp-sink (no install, no daemon).
UNPACKED = HERE / ".tools" / "postfix"


def _sink_environment(binary: Path) -> dict[str, str]:
    env = dict(os.environ)
    libs = binary.parent.parent / "lib" / "postfix"
    if libs.is_dir():  # an unpacked copy finds its own shared libraries there
        env["LD_LIBRARY_PATH"] = str(libs)
    return env


def _runs(binary: Path) -> bool:
    """Whether ``binary`` starts: without arguments smtp-sink prints its usage."""
    try:
        done = subprocess.run([str(binary)], capture_output=True, timeout=10,
                              env=_sink_environment(binary), check=False)
    except OSError:
        return False
    return b"usage" in done.stdout + done.stderr


def find_smtp_sink() -> Path | None:
    """Postfix's smtp-sink that runs here: $SMTP_SINK, the unpacked copy, or one installed."""
    for candidate in (os.environ.get("SMTP_SINK"), UNPACKED / "usr/sbin/smtp-sink",
                      shutil.which("smtp-sink"), "/usr/sbin/smtp-sink"):
        if candidate and Path(candidate).is_file() and _runs(Path(candidate)):
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sink exited with {process.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout} s")


class SmtpSink:
    """A discarding SMTP server in its own process; ``kind`` is postfix, python or auto.

    ``delay`` and ``times`` (see ``smtp_sink.py``) need the python sink.
    """

    def __init__(self, kind: str = "auto", delay: float = 0.0,
                 times: Path | None = None) -> None:
        self.options = [*(["--delay", str(delay)] if delay else []),
                        *(["--times", str(times)] if times else [])]
        if self.options:
            kind = "python"
        binary = find_smtp_sink() if kind in ("auto", "postfix") else None
        if kind == "postfix" and binary is None:
            raise RuntimeError("smtp-sink not found: run `make smtp-sink` in bench/, or set "
                               "SMTP_SINK to its path")
        self.binary = binary
        self.kind = "postfix smtp-sink" if binary else "python asyncio sink (smtp_sink.py)"
        self._messages = 0
        self._process: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> SmtpSink:
        if self.binary is not None:
            self.port = free_port()
            env = _sink_environment(self.binary)
            # -c: print counters; -a: no AUTH offered; as root it must drop privileges.
            command = [str(self.binary), "-c", "-a"]
            if os.geteuid() == 0:
                command += ["-u", "nobody"]
            command += [f"{HOST}:{self.port}", "256"]
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, env=env)
            threading.Thread(target=self._read, daemon=True).start()
            _wait_listening(self.port, self._process)
        else:
            self._process = subprocess.Popen([sys.executable, str(HERE / "smtp_sink.py"),
                                              *self.options],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            first = self._process.stdout.readline().decode()
            self.port = int(first.strip().removeprefix("port="))
            threading.Thread(target=self._read, daemon=True).start()
        return self

    def peer_arguments(self) -> list[str]:
        """How a peer reaches this server (``email_peers.py`` options)."""
        return ["--host", HOST, "--port", str(self.port)]

    @property
    def environment(self) -> dict[str, str]:
        return {}  # nothing for peers to know beyond the address

    def _read(self) -> None:
        # Both sinks write "sess=S quit=Q mesg=M", smtp-sink ending lines with \r.
        pattern = re.compile(rb"mesg=(\d+)")
        tail = b""
        while chunk := self._process.stdout.read1(65536):
            tail = (tail + chunk)[-256:]
            found = pattern.findall(tail)
            if found:
                self._messages = int(found[-1])

    def count(self, expected: int | None = None, timeout: float = 10) -> int:
        """Messages received so far; given ``expected``, wait (a while) for that many."""
        deadline = time.monotonic() + timeout
        while expected is not None and self._messages < expected \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        return self._messages

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is None:
            return
        if process.stdin:
            process.stdin.close()
        else:
            process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class PostfixServer:
    """The tests' private Postfix (root only), reached plain or with STARTTLS and a login.

    Each peer logs in as the Postfix's office user and sends as that address
    (its sender login map allows no other); the password and the CA file that
    certifies the server reach the peers through their environment
    (``BENCH_SMTP_PASSWORD``; ``SSL_CERT_FILE``, which Python's default TLS
    context reads, for Django's backend).
    """

    USER = "office@example.com"

    def __init__(self, security: str) -> None:
        self.security = security
        self.kind = ("Postfix smtpd, STARTTLS and login (SASL through Dovecot), discarding"
                     if security == "starttls" else "Postfix smtpd, plain, no login, discarding")
        self._stack = contextlib.ExitStack()
        self._mail = None
        self._taken = 0
        self._offset = 0

    @staticmethod
    def unavailable() -> str | None:
        """Why no private Postfix can run here (not root, packages missing), or None."""
        if str(TESTS) not in sys.path:
            sys.path.insert(0, str(TESTS))
        from loopback.postfix import postfix_unavailable

        return postfix_unavailable()

    def __enter__(self) -> PostfixServer:
        reason = self.unavailable()
        if reason:
            raise RuntimeError(reason)
        from loopback.postfix import running_postfix

        self._mail = self._stack.enter_context(running_postfix(discard_in_smtpd=True))
        self._offset = self._mail.log.mark()
        return self

    @property
    def port(self) -> int:
        return self._mail.port("submission" if self.security == "starttls" else "plain")

    def peer_arguments(self) -> list[str]:
        arguments = ["--host", "localhost", "--port", str(self.port), "--sender", self.USER]
        if self.security == "starttls":
            arguments += ["--security", "starttls", "--user", self.USER,
                          "--ca-file", str(self._mail.ca_file)]
        return arguments

    @property
    def environment(self) -> dict[str, str]:
        if self.security != "starttls":
            return {}
        return {"BENCH_SMTP_PASSWORD": self._mail.users[self.USER],
                "SSL_CERT_FILE": str(self._mail.ca_file)}

    def count(self, expected: int | None = None, timeout: float = 60) -> int:
        """Messages taken and dropped so far, read from the log as it grows;
        given ``expected``, wait (a while) for that many: the log line follows
        the server's answer by a moment."""
        from loopback.postfix import MailLog

        deadline = time.monotonic() + timeout
        while True:
            lines, self._offset = self._mail.log.read(self._offset)
            self._taken += len(MailLog.discarded(lines))
            if expected is None or self._taken >= expected \
                    or time.monotonic() > deadline:
                return self._taken
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


class NexmoSink:
    """``nexmo_sink.py`` in its own process, with a trustme certificate for 127.0.0.1."""

    def __init__(self, folder: Path, latency: float = 0.0) -> None:
        self.folder = folder
        self.latency = latency
        self.ca_file = folder / "ca.pem"
        self.port = 0
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def __enter__(self) -> NexmoSink:
        import trustme

        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(self.ca_file))
        server_pem = self.folder / "server.pem"
        ca.issue_cert(HOST, "localhost").private_key_and_cert_chain_pem.write_to_path(
            str(server_pem))
        self._process = subprocess.Popen(
            [sys.executable, str(HERE / "nexmo_sink.py"), "--cert", str(server_pem),
             "--latency", str(self.latency)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        first = self._process.stdout.readline().decode()
        if not first.startswith("port="):
            raise RuntimeError(f"the Nexmo sink did not start: {first!r}")
        self.port = int(first.strip().removeprefix("port="))
        return self

    def count(self, expected: int | None = None) -> int:
        """Messages the fake API accepted so far (it counts one before answering
        it, so there is never anything to wait for: ``expected`` is not needed)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(f"{self.url}/_bench/count", context=context,
                                    timeout=10) as answer:
            return json.load(answer)["accepted"]

    def __exit__(self, *exc: object) -> None:
        if self._process is None:
            return
        self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
