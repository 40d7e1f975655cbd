"""Offline checks for providers that talk to an HTTPS API, shared so each
plugin words the same mistakes the same way."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from postroom.results import Problem


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address: where plain http harms nobody."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def https_problems(base_url: str, ca_bundle: Path | None, carried: str) -> list[Problem]:
    """What is wrong with an API address and CA bundle, before any request.

    Plain http is an error, since ``carried`` (``"the API secret"``) would
    cross the network unencrypted; on loopback (tests, a local gateway) it is
    only a warning. A ``ca_bundle`` that is not a file is an error.
    """
    found = []
    url = urlsplit(base_url)
    if url.scheme == "http":
        plain = ("base_url", f"base_url uses plain http: {carried} would cross the network "
                 "unencrypted", "use https://")
        found.append(Problem.warning(*plain) if is_loopback(url.hostname or "")
                     else Problem.error(*plain))
    if ca_bundle is not None and not ca_bundle.is_file():
        found.append(Problem.error("ca_bundle", f"{ca_bundle} is not a file",
                                   "point ca_bundle at a PEM file of CA certificates"))
    return found
