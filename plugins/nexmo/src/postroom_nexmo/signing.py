"""Request signatures, as the SMS API checks them and signs its webhooks.

The signed text is every parameter but ``sig``, sorted by name, each written
as ``&name=value`` with ``&`` and ``=`` inside values turned into ``_``.
``md5hash`` hashes that text with the secret appended; the other methods are
HMACs of the text keyed by the secret. Hex digits are compared without regard
to case, since the API writes HMACs in capitals and MD5 hashes in small letters.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from postroom_nexmo.config import SignatureMethod


def signed_text(params: Mapping[str, object]) -> str:
    """The text a signature is made over (``sig`` itself left out)."""
    return "".join(
        "&{}={}".format(name, str(value).replace("&", "_").replace("=", "_"))
        for name, value in sorted(params.items())
        if name != "sig"
    )


def signature(params: Mapping[str, object], secret: str, method: SignatureMethod) -> str:
    """The hex signature of ``params`` with ``secret`` by ``method``."""
    text = signed_text(params).encode()
    if method == "md5hash":
        # The provider's legacy method, kept because accounts may still be set to it.
        return hashlib.md5(text + secret.encode()).hexdigest()  # noqa: S324
    return hmac.new(secret.encode(), text, method).hexdigest()


def sign(params: Mapping[str, str], secret: str, method: SignatureMethod,
         now: float | None = None) -> dict[str, str]:
    """``params`` plus the ``timestamp`` and ``sig`` a signed request carries."""
    stamped = {**params, "timestamp": str(int(time.time() if now is None else now))}
    return {**stamped, "sig": signature(stamped, secret, method)}


def verify(params: Mapping[str, object], secret: str, method: SignatureMethod) -> bool:
    """True when ``params["sig"]`` is the signature of the other parameters."""
    given = str(params.get("sig", "")).lower().encode()
    expected = signature(params, secret, method).encode()
    return bool(given) and hmac.compare_digest(given, expected)
