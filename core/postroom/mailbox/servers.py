"""Reading an incoming mailbox over IMAP or POP3, step by step.

Each step (connect, TLS, login, folder, read) runs inside ``step``: a
failure comes out as one ``MailboxError`` naming the step, so the diagnosis
can say what to change. Messages are named by a key that stays the same
between checks (IMAP: UIDVALIDITY and UID; POP3: UIDL) and read without
changing them: IMAP fetches with ``BODY.PEEK`` (nothing is marked read), and
POP3 deletes nothing, so the office's own mail program sees them as before.
"""

from __future__ import annotations

import contextlib
import imaplib
import poplib
import select
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType

from postroom.mailbox.settings import MailboxSettings

# What a mailbox step may raise for reasons outside our code; anything else is a bug.
NETWORK_ERRORS = (OSError, imaplib.IMAP4.error, poplib.error_proto, EOFError)
_IDLE_TAG = b"PRIDLE"


class MailboxError(Exception):
    """A step of reading the mailbox failed: ``stage`` is ``connect``, ``tls``,
    ``login``, ``folder`` or ``read``; ``error`` is the original exception."""

    def __init__(self, stage: str, error: BaseException) -> None:
        self.stage = stage
        self.error = error
        super().__init__(f"mailbox {stage} step failed: {error!r}")


@contextmanager
def step(stage: str) -> Iterator[None]:
    try:
        yield
    except NETWORK_ERRORS as error:
        raise MailboxError(stage, error) from error


def tls_context(settings: MailboxSettings) -> ssl.SSLContext:
    """The client TLS context for the mailbox: checked against the CA file, or the system's."""
    with step("tls"):
        context = ssl.create_default_context(
            cafile=str(settings.tls_ca_file) if settings.tls_ca_file else None)
    if settings.tls_verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Mailbox:
    """An open, logged-in mailbox; use ``open_mailbox`` as a context manager.

    ``facts`` says what the opening learned (TLS version, server, messages).
    """

    facts: dict[str, str]

    def keys(self) -> list[str]:
        """The keys of every message in the mailbox (folder), oldest first."""
        raise NotImplementedError

    def fetch(self, key: str) -> bytes:
        """The whole message ``key`` as it arrived."""
        raise NotImplementedError

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for new mail (IMAP IDLE); True if some arrived.

        A server without IDLE (and POP3) gives no signal: the wait returns
        False at once, and the caller checks on its schedule instead.
        """
        return False

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _tls_version(sock: socket.socket) -> str:
    return f"{sock.version()} ({sock.cipher()[0]})" if isinstance(sock, ssl.SSLSocket) else "none"


class ImapMailbox(Mailbox):
    def __init__(self, settings: MailboxSettings) -> None:
        self.settings = settings
        context = tls_context(settings) if settings.security != "none" else None
        with step("connect"):
            if settings.security == "ssl":
                connection = imaplib.IMAP4_SSL(settings.host, settings.server_port,
                                               ssl_context=context, timeout=settings.timeout)
            else:
                connection = imaplib.IMAP4(settings.host, settings.server_port,
                                           timeout=settings.timeout)
        self.connection = connection
        try:
            if settings.security == "starttls":
                with step("tls"):
                    connection.starttls(ssl_context=context)
            self.facts = {"mailbox": settings.where, "tls": _tls_version(connection.sock)}
            with step("login"):
                connection.login(settings.username, settings.password.reveal())
            with step("folder"):
                kind, answer = connection.select(_quoted(settings.folder), readonly=True)
                if kind != "OK":
                    raise imaplib.IMAP4.error(_said(answer))
                validity = connection.response("UIDVALIDITY")[1]
            self.validity = validity[0].decode() if validity and validity[0] else "0"
            self.facts["messages"] = _said(answer)
        except BaseException:
            self.close()
            raise

    def keys(self) -> list[str]:
        with step("read"):
            kind, answer = self.connection.uid("SEARCH", None, "ALL")
            if kind != "OK":
                raise imaplib.IMAP4.error(_said(answer))
        uids = sorted(int(uid) for uid in (answer[0] or b"").split())
        return [f"{self.validity}/{uid}" for uid in uids]

    def fetch(self, key: str) -> bytes:
        uid = key.partition("/")[2]
        with step("read"):
            kind, answer = self.connection.uid("FETCH", uid, "(BODY.PEEK[])")
            parts = [item[1] for item in answer if isinstance(item, tuple)]
            if kind != "OK" or not parts:
                raise imaplib.IMAP4.error(f"cannot fetch message {uid}: {_said(answer)}")
        return parts[0]

    def wait(self, seconds: float) -> bool:
        connection = self.connection
        if "IDLE" not in connection.capabilities:
            return False
        arrived = False
        with step("read"):
            connection.send(_IDLE_TAG + b" IDLE\r\n")
            if not connection.readline().startswith(b"+"):
                raise imaplib.IMAP4.error("the server refused IDLE")
            deadline = time.monotonic() + seconds
            # Waited for with select: a read that times out would break the connection.
            while not arrived and (left := deadline - time.monotonic()) > 0:
                if not _readable(connection.sock, left):
                    break
                arrived = _announces_mail(connection.readline())
            connection.send(b"DONE\r\n")
            while not (line := connection.readline()).startswith(_IDLE_TAG):
                arrived = arrived or _announces_mail(line)
        return arrived

    def close(self) -> None:
        with contextlib.suppress(*NETWORK_ERRORS):
            self.connection.logout()


class Pop3Mailbox(Mailbox):
    def __init__(self, settings: MailboxSettings) -> None:
        self.settings = settings
        context = tls_context(settings) if settings.security != "none" else None
        with step("connect"):
            if settings.security == "ssl":
                connection = poplib.POP3_SSL(settings.host, settings.server_port,
                                             timeout=settings.timeout, context=context)
            else:
                connection = poplib.POP3(settings.host, settings.server_port,
                                         timeout=settings.timeout)
        self.connection = connection
        try:
            if settings.security == "starttls":
                with step("tls"):
                    connection.stls(context)
            self.facts = {"mailbox": settings.where, "tls": _tls_version(connection.sock)}
            with step("login"):
                connection.user(settings.username)
                connection.pass_(settings.password.reveal())
            self._numbers: dict[str, int] = {}
        except BaseException:
            self.close()
            raise

    def keys(self) -> list[str]:
        with step("read"):
            _, lines, _ = self.connection.uidl()
        listed = [line.decode().split() for line in lines]
        self._numbers = {uid: int(number) for number, uid in listed}
        self.facts["messages"] = str(len(listed))
        return [uid for _, uid in listed]

    def fetch(self, key: str) -> bytes:
        with step("read"):
            _, lines, _ = self.connection.retr(self._numbers[key])
        return b"\r\n".join(lines) + b"\r\n"

    def close(self) -> None:
        with contextlib.suppress(*NETWORK_ERRORS):
            self.connection.quit()
        self.connection.close()


def _readable(sock: socket.socket, seconds: float) -> bool:
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    return bool(select.select([sock], [], [], seconds)[0])


def _announces_mail(line: bytes) -> bool:
    """Whether an untagged IMAP line says the folder has new messages (``* 5 EXISTS``)."""
    if not line:
        raise EOFError("the server closed the connection while idling")
    return line.startswith(b"*") and line.rstrip().endswith(b"EXISTS")


def open_mailbox(settings: MailboxSettings) -> Mailbox:
    """Connect, log in and (IMAP) open the folder; raises ``MailboxError``."""
    return (ImapMailbox if settings.protocol == "imap" else Pop3Mailbox)(settings)


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(answer: Sequence[object]) -> str:
    first = answer[0] if answer else b""
    return first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
