"""Fixtures the plugins' tests share: a test CA, a server certificate, a clock tests move.

A plugin's ``conftest.py`` imports the fixtures it uses by name
(``from loopback.fixtures import ca, ca_file, server_tls``).
"""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest
import trustme

from loopback.certificates import server_context, write_ca_file


class FakeClock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority for the loopback TLS servers."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca) -> ssl.SSLContext:
    """A server TLS context with a certificate from ``ca`` for the loopback names."""
    return server_context(ca)


@pytest.fixture
def ca_file(ca, tmp_path) -> Path:
    """``ca``'s certificate as a PEM file, what a client's CA-file setting points at."""
    return write_ca_file(ca, tmp_path / "test-ca.pem")
