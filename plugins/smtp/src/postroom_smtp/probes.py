"""Second looks at a server after an ambiguous failure, for the live test only.

A silent server may be an implicit-TLS port waiting for our TLS hello; a
failed TLS handshake may be a plain-text port. One short extra connection
tells which, so the hint can be specific. Both are bounded by the timeout.
"""

from __future__ import annotations

from postroom_smtp.transport.endpoint import Endpoint
from postroom_smtp.transport.errors import SessionError
from postroom_smtp.transport.network import open_socket
from postroom_smtp.transport.tls import TlsPolicy


def speaks_tls(server: Endpoint, timeout: float) -> bool:
    """Whether the server completes a TLS handshake right after connecting."""
    # Only asks whether the port speaks TLS at all: nothing is sent over it,
    # so the certificate is not what this check is about.
    try:
        with open_socket(server, timeout, TlsPolicy(verify=False).context):
            return True
    except SessionError:
        return False


def plain_greeting(server: Endpoint, timeout: float) -> str | None:
    """The first line the server sends unasked on a plain connection (``220 ...``)."""
    try:
        with open_socket(server, timeout) as sock:
            first = sock.recv(512)
    except (SessionError, OSError):
        return None
    lines = first.decode("ascii", "replace").splitlines()
    return lines[0] if lines else None
