"""Throwaway TLS certificates for loopback servers, from a trustme test CA.

A client trusts them only when told to (the CA's PEM file), which is what
lets a test provoke "certificate not trusted" for real.
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import trustme

LOOPBACK_NAMES = ("localhost", "127.0.0.1")


def server_context(ca: trustme.CA, names: tuple[str, ...] = LOOPBACK_NAMES, *,
                   expired: bool = False) -> ssl.SSLContext:
    """A server-side TLS context with a certificate from ``ca`` for ``names``.

    ``expired`` makes the certificate one whose validity ended yesterday.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    validity = {}
    if expired:
        now = datetime.datetime.now(datetime.UTC)
        validity = {"not_before": now - datetime.timedelta(days=30),
                    "not_after": now - datetime.timedelta(days=1)}
    ca.issue_cert(*names, **validity).configure_cert(context)
    return context


def write_ca_file(ca: trustme.CA, path: Path) -> Path:
    """Write the CA certificate as PEM (what a client's CA-file setting points at)."""
    ca.cert_pem.write_to_path(str(path))
    return path
