"""A real Dovecot (IMAP and POP3) on loopback, started privately for the tests.

It runs in the foreground as a child of the test process, from its own
config in a temporary folder: its own ``base_dir``, free loopback ports for
IMAP (plain with STARTTLS, and implicit TLS) and POP3 (the same two), users
in a passwd-file, maildirs under the same folder and a TLS certificate from
the test CA. The system's Dovecot service is never touched. Mail is
delivered with IMAP APPEND, as the user, so Dovecot files it itself.

Dovecot comes from the Debian packages ``dovecot-imapd`` and
``dovecot-pop3d``; without them the tests that need it are skipped with the
command that installs them, unless ``CI`` is set, where that is a failure.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme
from attrs import define, field

HOST = "127.0.0.1"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
INSTALL = "apt-get install -y dovecot-imapd dovecot-pop3d (or: make system-deps)"
_START_TIMEOUT = 20.0


def require_dovecot() -> None:
    """Skip (or, under CI, fail) when Dovecot is not installed."""
    if Path(DOVECOT).exists():
        return
    message = f"Dovecot is not installed: {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _accounts() -> tuple[str, str, int, int]:
    """Who runs the services and owns the mail: Dovecot's own users under root, else us."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        return "dovecot", "dovenull", mail.pw_uid, mail.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid


_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = postroom-test-{port_imap}
log_path = {root}/dovecot.log
protocols = imap pop3
listen = {host}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port_imap}
  }}
  inet_listener imaps {{
    port = {port_imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {port_pop3}
  }}
  inet_listener pop3s {{
    port = {port_pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


@define
class Dovecot:
    """A running private Dovecot: its ports, users and CA, and how to put mail in."""

    root: Path
    users: dict[str, str]
    ca: trustme.CA
    ports: dict[str, int]
    process: subprocess.Popen = field(repr=False)

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    @contextlib.contextmanager
    def _session(self, user: str) -> Iterator[imaplib.IMAP4_SSL]:
        """A logged-in IMAP session of ``user``, over TLS."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        client = imaplib.IMAP4_SSL(HOST, self.ports["imaps"], ssl_context=context, timeout=10)
        try:
            client.login(user, self.users[user])
            yield client
        finally:
            client.logout()

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put the message ``raw`` in ``user``'s ``folder``, as a delivery would."""
        with self._session(user) as client:
            kind, answer = client.append(folder, None, None, raw)
            assert kind == "OK", answer

    def flagged_seen(self, user: str) -> int:
        """How many of ``user``'s inbox messages are marked read."""
        with self._session(user) as client:
            client.select("INBOX", readonly=True)
            _, answer = client.search(None, "SEEN")
            return len((answer[0] or b"").split())


def _wait_until_listening(dovecot: Dovecot) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    for port in dovecot.ports.values():
        while True:
            if dovecot.process.poll() is not None:
                raise RuntimeError(f"dovecot exited with {dovecot.process.returncode}:\n"
                                   f"{dovecot.log}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not listen on {port}:\n{dovecot.log}")
            time.sleep(0.05)


@contextmanager
def running_dovecot(ca: trustme.CA, users: Mapping[str, str]) -> Iterator[Dovecot]:
    """Run a private Dovecot for the ``with`` block; ``users`` maps names to passwords."""
    require_dovecot()
    internal, login, uid, gid = _accounts()
    root = Path(tempfile.mkdtemp(prefix="postroom-dovecot-"))
    try:
        root.chmod(0o755)  # the mail processes run as the mail user and must reach it
        (root / "mail").mkdir()
        os.chown(root / "mail", uid, gid)
        cert = ca.issue_cert("localhost", HOST)
        cert.private_key_pem.write_to_path(str(root / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
        (root / "users").write_text("".join(f"{name}:{{PLAIN}}{password}\n"
                                            for name, password in users.items()))
        ports = dict(zip(("imap", "imaps", "pop3", "pop3s"), _free_ports(4), strict=True))
        (root / "dovecot.conf").write_text(_CONFIG.format(
            root=root, host=HOST, internal=internal, login=login, uid=uid, gid=gid,
            **{f"port_{name}": port for name, port in ports.items()}))
        process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.STDOUT)
        dovecot = Dovecot(root, dict(users), ca, ports, process)
        try:
            _wait_until_listening(dovecot)
            yield dovecot
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
    finally:
        shutil.rmtree(root, ignore_errors=True)
