"""A TCP proxy on loopback that a test can cut, to take a database away from one client.

``cut()`` drops every connection through it at once, as a failed network
link would, and with ``refuse=True`` turns new connections away until
``restore()``: the client behind it has lost its server, everyone else
still has it.
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

HOST = "127.0.0.1"


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; see the module's docstring."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server((HOST, 0))
        self.port = self._listener.getsockname()[1]
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._refusing = threading.Event()
        self._closed = threading.Event()
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peer = {client: server, server: client}
        with selectors.DefaultSelector() as selector:
            for end in peer:
                selector.register(end, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select(timeout=0.5):
                        data = key.fileobj.recv(65536)
                        if not data:
                            return
                        peer[key.fileobj].sendall(data)
            except (OSError, ValueError):  # cut: the sockets were closed under us
                return
            finally:
                self._drop(client, server)

    def _drop(self, client: socket.socket, server: socket.socket) -> None:
        with self._lock:
            if (client, server) in self._pairs:
                self._pairs.remove((client, server))
        for end in (client, server):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def cut(self, refuse: bool = False) -> None:
        """Drop every connection now; with ``refuse``, turn new ones away too."""
        if refuse:
            self._refusing.set()
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(*pair)
        self.cuts += 1

    def restore(self) -> None:
        """Let new connections through again."""
        self._refusing.clear()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self.cut()


@contextmanager
def tcp_proxy(target: tuple[str, int]) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
