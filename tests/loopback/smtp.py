"""A real SMTP server on loopback (aiosmtpd in a thread) that records and misbehaves on cue.

::

    with running_smtp(security="starttls", tls_context=ctx, users={"ann": "pw"}) as server:
        ...  # send to server.host:server.port
        server.received      # the messages it accepted, with the connection each came on
        server.connections   # TCP connections accepted

Security modes: ``none`` (plain text), ``starttls`` (STARTTLS offered, and
required before MAIL/AUTH with ``require_starttls``), ``ssl`` (implicit TLS).

Faults script misbehaviour. Each fault is asked before the server answers
MAIL, RCPT or DATA (DATA after the content arrived) and may return an
action: ``Answer("451 ...")`` replies that instead, ``Drop()`` cuts the
connection without a reply (``Drop(keep=True)`` on DATA keeps the message
first), ``Stall(seconds)`` waits and then goes on normally; a client that
hangs up meanwhile ends the session, so a stalled DATA is then not kept.
``NthCommand``, ``EveryCommand``, ``ForAddress``, ``Greylist`` and
``RandomFaults`` are ready-made faults; any callable taking a ``Command`` is one.

Two faults come before any mail: ``hello_refusal`` answers EHLO and HELO
with that reply, and ``stall_starttls`` goes silent at STARTTLS.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, syntax
from attrs import define, field, frozen

HOST = "127.0.0.1"
DEFAULT_REJECTION = "535 5.7.8 Authentication credentials invalid"


@frozen
class Command:
    """What a fault is asked about: ``MAIL``, ``RCPT`` or ``DATA`` on connection ``connection``.

    ``address`` is set for MAIL and RCPT, ``content`` (the message) for DATA.
    """

    name: str
    connection: int
    address: str | None = None
    content: bytes | None = None


@frozen
class Answer:
    """Reply with ``text`` (``"451 4.7.1 try later"``) instead of accepting."""

    text: str


@frozen
class Drop:
    """Cut the connection without replying, as a crashing server does.

    ``keep`` (for DATA) keeps the message first: the server has it, but the
    client never hears so, as when a server crashes right after queueing it.
    """

    keep: bool = False


@frozen
class Stall:
    """Wait ``seconds`` before going on normally, as an overloaded server does."""

    seconds: float


Action = Answer | Drop | Stall
Fault = Callable[[Command], Action | None]


@define
class NthCommand:
    """``action`` for the ``n``-th ``name`` command the server receives (counting from 1)."""

    name: str
    n: int
    action: Action
    _seen: int = 0

    def __call__(self, command: Command) -> Action | None:
        if command.name != self.name:
            return None
        self._seen += 1
        return self.action if self._seen == self.n else None


@frozen
class EveryCommand:
    """``action`` for every ``name`` command: ``EveryCommand("DATA", Stall(0.1))`` is a
    server that takes a tenth of a second over each message."""

    name: str
    action: Action

    def __call__(self, command: Command) -> Action | None:
        return self.action if command.name == self.name else None


@frozen
class ForAddress:
    """``action`` for every ``name`` command (MAIL or RCPT) with ``address``."""

    name: str
    address: str
    action: Action

    def __call__(self, command: Command) -> Action | None:
        if command.name == self.name and command.address == self.address:
            return self.action
        return None


@define
class Greylist:
    """Refuse each message the first time it arrives (by Message-ID), accept it later."""

    reply: str = "451 4.7.1 Greylisted, please try again later"
    _seen: set[str] = field(factory=set)

    def __call__(self, command: Command) -> Action | None:
        if command.name != "DATA" or command.content is None:
            return None
        key = email.message_from_bytes(command.content)["Message-ID"]
        if key in self._seen:
            return None
        self._seen.add(key)
        return Answer(self.reply)


@define
class RandomFaults:
    """Seeded random trouble: each MAIL, RCPT and DATA draws at most one action.

    ``odds`` pairs actions with their chance per command, such as
    ``[(Drop(), 0.02), (Answer("451 4.3.0 busy"), 0.02)]``; the same ``seed``
    gives the same draws for the same sequence of commands. ``chosen`` keeps
    every command an action was drawn for, so a test can count the trouble it
    caused; list it first among the faults for exact counts, since the first
    action of the list is the one the server takes.
    """

    odds: Sequence[tuple[Action, float]]
    seed: int = 0
    names: frozenset[str] = frozenset({"MAIL", "RCPT", "DATA"})
    chosen: list[tuple[Command, Action]] = field(factory=list)
    _random: random.Random = field(init=False)

    def __attrs_post_init__(self) -> None:
        if sum(chance for _, chance in self.odds) > 1:
            raise ValueError("the chances of all actions add up to more than 1")
        self._random = random.Random(self.seed)

    def __call__(self, command: Command) -> Action | None:
        if command.name not in self.names:
            return None
        draw = self._random.random()
        for action, chance in self.odds:
            if draw < chance:
                self.chosen.append((command, action))
                return action
            draw -= chance
        return None


@frozen
class Received:
    """A message the server accepted, the connection it came on, and when
    (``at``, epoch seconds: the moment the server took it)."""

    mail_from: str
    recipients: tuple[str, ...]
    content: bytes
    mail_options: tuple[str, ...]
    connection: int
    at: float = 0.0

    def message(self) -> email.message.EmailMessage:
        """The message parsed, with headers decoded."""
        return email.message_from_bytes(self.content, policy=email.policy.default)

    @property
    def postroom_id(self) -> str:
        """postroom's id of the message, from the Message-ID it wrote: ``<id@domain>``."""
        return self.message()["Message-ID"].strip("<>").partition("@")[0]


class RecordingHandler:
    """aiosmtpd handler: records what arrives and consults the faults first."""

    def __init__(self, users: Mapping[str, str] | None = None,
                 rejection: str = DEFAULT_REJECTION, faults: Iterable[Fault] = ()) -> None:
        self.users = dict(users or {})
        self.rejection = rejection
        self.faults = list(faults)
        self.received: list[Received] = []
        self.logins: list[str] = []
        self.commands: Counter[str] = Counter()
        self.pipelining = False  # offer ESMTP PIPELINING (aiosmtpd reads pipelined commands)
        self.hello_refusal: str | None = None  # the reply to EHLO and HELO instead of 250
        self.stall_starttls: Literal["reply", "handshake"] | None = None

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        """aiosmtpd's ``authenticator``: checks user name and password against ``users``."""
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            if login in self.users and self.users[login] == auth_data.password.decode():
                self.logins.append(login)
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False, message=self.rejection)

    async def _fault(self, server, command: Command,
                     keep: Callable[[], None] | None = None) -> str | None:
        # Every fault sees every command (so counting faults count right); the first action wins.
        actions = [fault(command) for fault in self.faults]
        for action in actions:
            if isinstance(action, Stall):
                await asyncio.sleep(action.seconds)
                return None
            if isinstance(action, Drop):
                if action.keep and keep is not None:
                    keep()
                server.transport.abort()
                # Aborting ends the session, which cancels this coroutine.
                await asyncio.get_running_loop().create_future()
            if isinstance(action, Answer):
                return action.text
        return None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.commands["EHLO"] += 1
        if self.hello_refusal:
            return [self.hello_refusal]
        session.host_name = hostname
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self.commands["HELO"] += 1
        if self.hello_refusal:
            return self.hello_refusal
        session.host_name = hostname
        return f"250 {server.hostname}"  # what aiosmtpd answers without this hook

    async def handle_RSET(self, server, session, envelope):
        self.commands["RSET"] += 1
        return "250 OK"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.commands["MAIL"] += 1
        refusal = await self._fault(server, Command("MAIL", server.connection_number, address))
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.commands["RCPT"] += 1
        refusal = await self._fault(server, Command("RCPT", server.connection_number, address))
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.commands["DATA"] += 1
        content = envelope.original_content

        def keep() -> None:
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                          content, tuple(envelope.mail_options),
                                          server.connection_number, time.time()))

        refusal = await self._fault(server, Command("DATA", server.connection_number,
                                                    content=content), keep)
        if refusal:
            return refusal
        keep()
        return f"250 2.0.0 OK queued as {len(self.received)}"


class _StallingStartTls(SMTP):
    """Goes silent at STARTTLS, as a broken middlebox does.

    The handler's ``stall_starttls`` says when: ``"reply"`` before answering
    STARTTLS, ``"handshake"`` after "220 Ready to start TLS".
    """

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.event_handler.stall_starttls == "handshake":
            await self.push("220 Ready to start TLS")
        # Never done: the client waits until it gives up or the server stops
        # (which cancels this session).
        await asyncio.get_running_loop().create_future()


class _CountingController(Controller):
    """Counts connections and numbers each session; binds to a free port."""

    def __init__(self, *args, session_class: type[SMTP] = SMTP, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connections = 0
        self._lock = threading.Lock()
        self._session_class = session_class

    def factory(self):
        smtp = self._session_class(self.handler, **self.SMTP_kwargs)
        with self._lock:
            self.connections += 1
            smtp.connection_number = self.connections
        return smtp

    def _trigger_server(self):
        # Bound to port 0: learn the real port before the start-up self-test connects.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@define
class LoopbackSmtp:
    """A running loopback SMTP server: where it is and what it saw."""

    host: str
    port: int
    handler: RecordingHandler
    controller: _CountingController = field(repr=False)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def connections(self) -> int:
        return self.controller.connections

    @property
    def commands(self) -> Counter[str]:
        return self.handler.commands

    @property
    def logins(self) -> list[str]:
        return self.handler.logins


@contextmanager
def running_smtp(
    *,
    security: Literal["none", "starttls", "ssl"] = "none",
    tls_context=None,
    require_starttls: bool = False,
    users: Mapping[str, str] | None = None,
    rejection: str = DEFAULT_REJECTION,
    auth_required: bool = False,
    auth_require_tls: bool = True,
    faults: Iterable[Fault] = (),
    handler_factory: Callable[..., RecordingHandler] = RecordingHandler,
    pipelining: bool = False,
    hello_refusal: str | None = None,
    stall_starttls: Literal["reply", "handshake"] | None = None,
    port: int = 0,
) -> Iterator[LoopbackSmtp]:
    """Run an SMTP server on 127.0.0.1 for the ``with`` block (on ``port``, or a free one).

    ``tls_context`` (server side) is needed for ``starttls`` and ``ssl``.
    ``users`` maps user names to passwords AUTH accepts; a refused login is
    answered with ``rejection``. ``auth_required`` refuses MAIL before login;
    ``auth_require_tls`` (aiosmtpd's default) offers AUTH only over TLS.
    ``handler_factory`` builds the handler from ``users``, ``rejection`` and
    ``faults``: a ``RecordingHandler`` subclass may answer logins its own way
    or add AUTH mechanisms (aiosmtpd offers each ``auth_NAME`` method).
    ``hello_refusal`` (``"550 ..."``) answers EHLO and HELO with that reply.
    ``stall_starttls`` (``starttls`` only) leaves STARTTLS unanswered
    (``"reply"``), or accepts it and leaves the TLS handshake unanswered
    (``"handshake"``). A server stopped and started again on its old ``port``
    with a ``handler_factory`` returning the same handler keeps what it saw.
    """
    if security != "none" and tls_context is None:
        raise ValueError(f"security {security!r} needs a server tls_context")
    if stall_starttls and security != "starttls":
        raise ValueError("stall_starttls needs security 'starttls'")
    handler = handler_factory(users, rejection, faults)
    handler.pipelining = pipelining
    handler.hello_refusal = hello_refusal
    handler.stall_starttls = stall_starttls
    options = {"authenticator": handler.authenticate, "auth_required": auth_required,
               "auth_require_tls": auth_require_tls, "server_hostname": "loopback.test"}
    if security == "starttls":
        options.update(tls_context=tls_context, require_starttls=require_starttls)
    if security == "ssl":
        # aiosmtpd counts only STARTTLS as TLS; here the whole session is encrypted.
        options["auth_require_tls"] = False
    controller = _CountingController(handler, hostname=HOST, port=port,
                                     ssl_context=tls_context if security == "ssl" else None,
                                     session_class=_StallingStartTls if stall_starttls
                                     else SMTP, **options)
    controller.start()
    controller.connections = 0  # forget the controller's own start-up check
    try:
        yield LoopbackSmtp(HOST, controller.port, handler, controller)
    finally:
        controller.stop()
