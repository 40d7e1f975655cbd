"""How the server's certificate is checked."""

from __future__ import annotations

import ssl
from pathlib import Path

from attrs import frozen

from postroom_smtp.transport.errors import CaFileError


@frozen
class TlsPolicy:
    """Certificate checking: on by default against the system's trusted CAs.

    ``ca_file`` trusts the CA certificates in that PEM file instead (a
    company CA, a self-signed server). ``verify = False`` turns checking off:
    the connection is still encrypted, but anyone in between can pose as the
    server and read the password.
    """

    verify: bool = True
    ca_file: Path | None = None

    def context(self) -> ssl.SSLContext:
        """A client TLS context for this policy; ``CaFileError`` if the CA file is unusable."""
        try:
            context = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
            raise CaFileError(f"cannot load CA certificates from {self.ca_file}: {reason}") from exc
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
