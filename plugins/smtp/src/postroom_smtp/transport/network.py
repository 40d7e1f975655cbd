"""Opening a socket step by step: name lookup, TCP connect, optional TLS.

Doing the steps apart (rather than ``socket.create_connection``) is what lets
a diagnosis tell a mistyped host from a closed port from a TLS mismatch.
Every step is bounded by the timeout, the name lookup included.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable

from postroom_smtp.transport.endpoint import Endpoint
from postroom_smtp.transport.errors import step

AddressInfo = tuple[int, int, int, str, tuple]


def resolve(host: str, port: int, timeout: float) -> list[AddressInfo]:
    """Look ``host`` up, giving up after ``timeout`` seconds.

    ``getaddrinfo`` takes no timeout, so a lookup of a name runs in a daemon
    thread that is abandoned if the resolver hangs. IP addresses skip it.
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                  flags=socket.AI_NUMERICHOST)
    answer: list = []

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.append(exc)

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not answer:
        raise TimeoutError(f"looking up {host} took longer than {timeout:g} s")
    if isinstance(answer[0], OSError):
        raise answer[0]
    return answer[0]


def connect(addresses: list[AddressInfo], timeout: float) -> socket.socket:
    """Connect to the first address that answers (IPv6 and IPv4 alike)."""
    last_error: OSError = OSError("no address to connect to")
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last_error = exc
        else:
            return sock
    raise last_error


def open_socket(server: Endpoint, timeout: float,
                tls: Callable[[], ssl.SSLContext] | None = None) -> socket.socket:
    """A connected socket to ``server``, TLS-wrapped when ``tls`` is given.

    Raises ``SessionError`` with stage ``dns``, ``connect`` or ``tls``.
    """
    with step("dns", server):
        addresses = resolve(server.host, server.port, timeout)
    with step("connect", server):
        sock = connect(addresses, timeout)
    if tls is None:
        return sock
    try:
        with step("tls", server):
            return tls().wrap_socket(sock, server_hostname=server.host)
    except BaseException:
        sock.close()
        raise


@functools.cache
def default_local_hostname() -> str:
    """This machine's name for EHLO, looked up once per process."""
    return socket.getfqdn()
