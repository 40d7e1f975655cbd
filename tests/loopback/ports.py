"""Loopback ports that fail in the two ways a wrong port or a firewall does."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

HOST = "127.0.0.1"


def refused_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def unresponsive_port() -> Iterator[int]:
    """A port where connecting times out, as behind a firewall that drops packets.

    The listener's accept queue (backlog 0) is filled by one connection it
    never accepts, so the kernel ignores further connection attempts.
    """
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind((HOST, 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        yield listener.getsockname()[1]
