"""A private Postfix, with Dovecot for its logins, on loopback: the real office mail server.

::

    with running_postfix() as mail:
        mail.port("submission")          # STARTTLS + login, as an office's port 587
        mail.ca_file                     # the PEM file a client must trust
        mark = mail.log.mark()
        ...                              # send through it
        mail.log.wait_for(mail.log.delivered, 3, since=mark)

It is the Debian packages ``postfix`` and ``dovecot-core`` run with their own
configuration: nothing of the machine's mail system is read or started. One
folder (on tmpfs when there is one, so the queue's fsyncs cost nothing) holds
Postfix's ``main.cf``/``master.cf``, queue and data, Dovecot's configuration,
sockets and password file, the throwaway CA's certificate, and both logs.
Postfix's master and Dovecot run in the foreground, each under a small
supervisor process that stops it (SIGTERM, then a wait) when the block ends,
or when the process that started it dies without ending it; then the folder
is removed. Postfix refuses to start but as root, which CI is; elsewhere
``postfix_unavailable`` says what is missing.

The server, ``mail.example.com``, discards everything it accepts (Postfix's
``discard`` transport: it is queued, logged and dropped). Its ports, each a
free loopback port chosen at start:

- ``plain``: no TLS, no login; relays for loopback clients (``mynetworks``).
- ``mx``: no TLS, no login, relays for nobody: like port 25 of an office
  server, it answers ``554 5.7.1 Relay access denied``.
- ``submission``: STARTTLS required, then login (SASL through Dovecot); relays
  only for logged-in users, each of whom may send only as the addresses
  ``SENDER_LOGINS`` gives them (``reject_sender_login_mismatch``).
- ``smtps``: the same with TLS from the first byte (implicit TLS).
- ``pop3``: Dovecot's POP3 (STLS offered), for POP-before-SMTP logins.

Users (``USERS``): ``office@example.com`` may send as itself,
``billing@example.com`` as itself. Dovecot's delays after failed logins
(``auth_failure_delay`` and the growing penalty per client address) are
off, so tests that provoke them stay fast: a failed login takes 0.5 s.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import trustme
from attrs import define, field, frozen

HOST = "127.0.0.1"
DOMAIN = "example.com"
HOSTNAME = f"mail.{DOMAIN}"
USERS = {"office@example.com": "Office-Pass-7319", "billing@example.com": "Billing-Pass-2846"}
SENDER_LOGINS = {"office@example.com": "office@example.com",
                 "billing@example.com": "billing@example.com"}
"""Which login owns which sender address (Postfix's smtpd_sender_login_maps)."""

POSTFIX = Path("/usr/sbin/postfix")
POSTFIX_MASTER = Path("/usr/lib/postfix/sbin/master")
DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_POP3 = Path("/usr/lib/dovecot/pop3")
PACKAGES = "postfix dovecot-core dovecot-pop3d"
INSTALL_HINT = (
    f"install them as root: echo 'postfix postfix/main_mailer_type select No configuration' "
    f"| sudo debconf-set-selections && sudo DEBIAN_FRONTEND=noninteractive apt-get install "
    f"-y {PACKAGES} (or run `make test` as root, which does it)")
_START_TIMEOUT = 30.0


def postfix_unavailable() -> str | None:
    """Why a private Postfix cannot run here, with what to do; None when it can."""
    missing = [str(path) for path in (POSTFIX, DOVECOT, DOVECOT_POP3) if not path.exists()]
    if missing:
        return f"a real Postfix and Dovecot are needed ({', '.join(missing)} missing): " \
               + INSTALL_HINT
    if os.geteuid() != 0:
        return ("a private Postfix can only be started as root (its master process refuses "
                "otherwise): run these tests as root, as CI does")
    return None


@frozen
class LogLine:
    """One line of a mail log: the program (``postfix/smtpd``) and what it said."""

    program: str
    text: str


# "Dec 01 05:46:15 mail postfix/smtpd[19536]: text"; Dovecot: "Dec 01 05:46:00 auth: text".
_LOG_LINE = re.compile(r"^\w{3} [ \d]\d [\d:]{8} (?:\S+ )?(?P<program>[\w/-]+)(?:\[\d+\])?: "
                       r"(?P<text>.*)$")


@define
class MailLog:
    """A log file the server appends to; read from a ``mark`` to see one test's lines."""

    path: Path

    def mark(self) -> int:
        """Where the log ends now: pass it as ``since`` to read only what comes after."""
        return self.path.stat().st_size if self.path.exists() else 0

    def read(self, since: int = 0) -> tuple[list[LogLine], int]:
        """The whole lines written after ``since``, and where they end (the next ``since``)."""
        if not self.path.exists():
            return [], since
        with self.path.open("rb") as log:
            log.seek(since)
            data = log.read()
        whole = data[:data.rfind(b"\n") + 1]  # a line being written is left for next time
        found = (_LOG_LINE.match(line) for line in whole.decode("utf-8", "replace").splitlines())
        return [LogLine(m["program"], m["text"]) for m in found if m], since + len(whole)

    def lines(self, since: int = 0) -> list[LogLine]:
        """The whole lines written after ``since``."""
        return self.read(since)[0]

    def wait_for(self, reading: Callable[[list[LogLine]], list], count: int, *,
                 since: int = 0, timeout: float = 20.0) -> list:
        """What ``reading`` finds in the lines after ``since``, once it finds ``count``
        (the log is written a moment after the server answers); fewer after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = reading(self.lines(since))
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    @staticmethod
    def queued_message_ids(lines: list[LogLine]) -> list[str]:
        """The Message-ID of each message Postfix took into its queue (cleanup's line)."""
        return [m[1] for line in lines if line.program == "postfix/cleanup"
                and (m := re.search(r"message-id=<([^>]*)>", line.text))]

    @staticmethod
    def delivered(lines: list[LogLine]) -> list[str]:
        """One ``to=<address>`` per recipient delivered (here: discarded) with status sent."""
        return [m[1] for line in lines if line.program == "postfix/discard"
                and "status=sent" in line.text and (m := re.search(r"to=<([^>]*)>", line.text))]

    @staticmethod
    def discarded(lines: list[LogLine]) -> list[str]:
        """The sender of each message smtpd took and dropped (``discard_in_smtpd``)."""
        return [m[1] for line in lines if line.program == "postfix/smtpd"
                and "DISCARD action" in line.text
                and (m := re.search(r"from=<([^>]*)>", line.text))]

    @staticmethod
    def failed_logins(lines: list[LogLine]) -> list[str]:
        """The mechanism (``PLAIN``) of each login Postfix refused."""
        return [m[1] for line in lines if line.program == "postfix/smtpd"
                and (m := re.search(r"SASL (\S+) authentication failed", line.text))]

    @staticmethod
    def sessions(lines: list[LogLine]) -> list[str]:
        """smtpd's summary of each session that ended: ``ehlo=2 starttls=1 auth=0/1 ...``."""
        return [line.text.split("]", 1)[1].strip() for line in lines
                if line.program == "postfix/smtpd" and line.text.startswith("disconnect from")]

    @staticmethod
    def rejections(lines: list[LogLine]) -> list[str]:
        """smtpd's ``NOQUEUE: reject:`` lines: the reply it gave and why."""
        return [line.text for line in lines
                if line.program == "postfix/smtpd" and "NOQUEUE: reject:" in line.text]


@define
class PrivatePostfix:
    """A running private Postfix and Dovecot; see the module's description."""

    folder: Path
    ports: dict[str, int]
    ca_file: Path
    log: MailLog
    dovecot_log: MailLog
    users: dict[str, str] = field(factory=lambda: dict(USERS))
    host: str = HOST

    def port(self, name: str) -> int:
        return self.ports[name]


def _free_ports(names: tuple[str, ...]) -> dict[str, int]:
    """Distinct loopback ports nothing listens on (held open together so none repeats)."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in names]
        for probe in probes:
            probe.bind((HOST, 0))
        return {name: probe.getsockname()[1] for name, probe in zip(names, probes, strict=True)}


_SUBMISSION = (
    "  -o smtpd_sasl_auth_enable=yes\n"
    "  -o smtpd_tls_auth_only=yes\n"
    "  -o smtpd_sender_restrictions=reject_sender_login_mismatch\n"
    "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject_unauth_destination\n")


def _master_cf(ports: dict[str, int]) -> str:
    # type private unpriv chroot wakeup maxproc command: no chroot, so no copies of /etc.
    services = [
        f"{HOST}:{ports['plain']} inet n - n - - smtpd\n"
        "  -o smtpd_tls_security_level=none\n",
        f"{HOST}:{ports['mx']} inet n - n - - smtpd\n"
        "  -o smtpd_tls_security_level=none\n"
        "  -o smtpd_relay_restrictions=reject_unauth_destination\n",
        f"{HOST}:{ports['submission']} inet n - n - - smtpd\n"
        "  -o smtpd_tls_security_level=encrypt\n" + _SUBMISSION,
        f"{HOST}:{ports['smtps']} inet n - n - - smtpd\n"
        "  -o smtpd_tls_wrappermode=yes\n  -o smtpd_tls_security_level=encrypt\n" + _SUBMISSION,
    ]
    internal = """\
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""
    return "".join(services) + internal


# Discarding in smtpd itself: each message is taken (cleanup reads it) and dropped at
# the end of DATA, nothing queued; without queued mail Postfix's flow control would
# hold each new message back a second (in_flow_delay), so that is off.
_DISCARD_IN_SMTPD = """\
smtpd_data_restrictions = check_client_access static:DISCARD
in_flow_delay = 0
"""


def _main_cf(folder: Path, discard_in_smtpd: bool) -> str:
    logins = ", ".join(f"{address}={login}" for address, login in SENDER_LOGINS.items())
    return (_DISCARD_IN_SMTPD if discard_in_smtpd else "") + f"""\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
myhostname = {HOSTNAME}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
local_recipient_maps =
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
default_transport = discard
relay_transport = discard
biff = no
smtpd_peername_lookup = no
smtpd_tls_chain_files = {folder}/etc/server.pem
smtpd_sasl_type = dovecot
smtpd_sasl_path = {folder}/run/auth-postfix
smtpd_sender_login_maps = inline:{{ {logins} }}
"""


def _dovecot_conf(folder: Path, pop3_port: int) -> str:
    dh = Path("/usr/share/dovecot/dh.pem")
    return f"""\
base_dir = {folder}/run/dovecot
state_dir = {folder}/run/dovecot-state
instance_name = postroom-loopback-{folder.name}
log_path = {folder}/dovecot.log
protocols = pop3
listen = {HOST}
ssl = yes
ssl_cert = <{folder}/etc/cert.pem
ssl_key = <{folder}/etc/key.pem
{f"ssl_dh = <{dh}" if dh.exists() else ""}
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/etc/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={folder}/mail/%u
}}
service auth {{
  unix_listener {folder}/run/auth-postfix {{
    mode = 0666
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


def _write_files(folder: Path, ports: dict[str, int], ca: trustme.CA,
                 discard_in_smtpd: bool) -> None:
    for name in ("etc", "run", "data", "mail", "queue"):
        (folder / name).mkdir()
    shutil.chown(folder / "data", "postfix", "postfix")  # Postfix's master keeps its lock here
    shutil.chown(folder / "mail", "nobody", "nogroup")   # POP3 logins make a mailbox here
    certificate = ca.issue_cert("localhost", HOST, HOSTNAME)
    certificate.private_key_and_cert_chain_pem.write_to_path(str(folder / "etc/server.pem"))
    certificate.private_key_pem.write_to_path(str(folder / "etc/key.pem"))
    (folder / "etc/cert.pem").write_bytes(b"".join(b.bytes() for b in
                                                   certificate.cert_chain_pems))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    (folder / "etc/main.cf").write_text(_main_cf(folder, discard_in_smtpd))
    (folder / "etc/master.cf").write_text(_master_cf(ports))
    (folder / "etc/dovecot.conf").write_text(_dovecot_conf(folder, ports["pop3"]))
    # Dovecot's auth process reads it as its own user; the passwords are throwaway.
    (folder / "etc/passwd").write_text("".join(f"{user}:{{PLAIN}}{password}\n"
                                               for user, password in USERS.items()))


def _listening(port: int) -> bool:
    """Whether something listens on loopback ``port``, read from the kernel's table:
    a test connection would leave a session in the logs the tests read."""
    wanted = f"0100007F:{port:04X}"  # 127.0.0.1 as /proc/net/tcp writes it
    with open("/proc/net/tcp") as table:
        next(table)
        return any(fields[1] == wanted and fields[3] == "0A"  # 0A: LISTEN
                   for fields in (line.split() for line in table))


def _wait_listening(ports: dict[str, int], alive: Callable[[], bool], what: str,
                    log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    waiting = dict(ports)
    while waiting:
        waiting = {name: port for name, port in waiting.items() if not _listening(port)}
        if not waiting:
            return
        if not alive() or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
            raise RuntimeError(f"{what} did not start listening on {waiting}; its log:\n{tail}")
        time.sleep(0.05)


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited but not reaped yet, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


# Runs the daemon as its child and stops it (SIGTERM, which it passes on to its own
# processes, then a wait) when its standard input closes: when the fixture stops
# it, and also when the process that started it dies without stopping it. (Linux's
# parent-death signal is no help: Postfix's master changes its group ids, which
# clears it.)
_SUPERVISOR = """
import subprocess, sys
daemon = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=sys.stderr)
print(daemon.pid, flush=True)
sys.stdin.read()
daemon.terminate()
try:
    daemon.wait(timeout=10)
except subprocess.TimeoutExpired:
    daemon.kill()
    daemon.wait()
"""


@contextmanager
def _daemon(command: list[str], output: Path) -> Iterator[int]:
    """Run a mail daemon in the foreground under a supervisor; yields the daemon's pid.
    Its output goes to ``output``; it is stopped and waited for when the block ends."""
    with output.open("ab") as log:
        supervisor = subprocess.Popen([sys.executable, "-c", _SUPERVISOR, *command],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=log)
    try:
        yield int(supervisor.stdout.readline())
    finally:
        supervisor.stdin.close()
        try:
            supervisor.wait(timeout=20)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()
        supervisor.stdout.close()


@contextmanager
def _dovecot(folder: Path, pop3_port: int) -> Iterator[None]:
    command = [str(DOVECOT), "-F", "-c", str(folder / "etc/dovecot.conf")]
    with _daemon(command, folder / "dovecot.log") as dovecot:
        _wait_listening({"pop3": pop3_port}, lambda: _pid_alive(dovecot), "Dovecot",
                        folder / "dovecot.log")
        deadline = time.monotonic() + _START_TIMEOUT
        while not (folder / "run/auth-postfix").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("Dovecot made no auth socket for Postfix")
            time.sleep(0.05)
        yield


@contextmanager
def _postfix(folder: Path, ports: dict[str, int]) -> Iterator[None]:
    config = str(folder / "etc")
    # "check" makes the queue's folders and checks the setup (problems go to the log);
    # then the master runs undetached ("postfix start" would make it a daemon).
    subprocess.run([str(POSTFIX), "-c", config, "check"], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=_START_TIMEOUT, check=False)
    with _daemon([str(POSTFIX_MASTER), "-c", config, "-d"], folder / "maillog") as master:
        smtp_ports = {name: port for name, port in ports.items() if name != "pop3"}
        _wait_listening(smtp_ports, lambda: _pid_alive(master), "Postfix",
                        folder / "maillog")
        yield


def _scratch_folder() -> Path:
    # tmpfs makes the queue's fsyncs free; the folder must be open to the postfix,
    # dovecot and nobody users, which a pytest tmp_path (mode 700) is not.
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="postroom-postfix-", dir=parent))
    folder.chmod(0o755)
    return folder


@contextmanager
def running_postfix(*, discard_in_smtpd: bool = False) -> Iterator[PrivatePostfix]:
    """Start a private Postfix and Dovecot (as root; see ``postfix_unavailable``).

    ``discard_in_smtpd`` drops each message in smtpd at the end of DATA
    instead of queueing it for the discard transport (``MailLog.discarded``
    counts them): every SMTP step, TLS and login still run, but the queue's
    own work per message, which bounds any client's rate, is left out. The
    benchmarks use it to measure clients.
    """
    reason = postfix_unavailable()
    if reason:
        raise RuntimeError(reason)
    folder = _scratch_folder()
    try:
        ports = _free_ports(("plain", "mx", "submission", "smtps", "pop3"))
        _write_files(folder, ports, trustme.CA(), discard_in_smtpd)
        with _dovecot(folder, ports["pop3"]), _postfix(folder, ports):
            yield PrivatePostfix(folder, ports, folder / "ca.pem", MailLog(folder / "maillog"),
                                 MailLog(folder / "dovecot.log"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def postfix_fixture() -> Iterator[PrivatePostfix]:
    """The body of a session-scoped pytest fixture: a running private Postfix.

    Where it cannot run, the test is skipped with the reason and how to get
    the packages; under CI (``$CI`` set) that is a failure instead, so a CI
    machine without them cannot pass by skipping.
    """
    import pytest

    reason = postfix_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, and {reason}", pytrace=False)
        pytest.skip(reason)
    with running_postfix() as mail:
        yield mail
