"""Offline checks of a ``microsoft365`` account: the app registration's settings and the limits."""

from __future__ import annotations

from urllib.parse import urlsplit

from postroom import Problem, Secret
from postroom_microsoft365.config import (
    RECIPIENTS_PER_MESSAGE_MAX,
    SUBMISSION_PORT,
    Microsoft365Config,
)
from postroom_microsoft365.identity import AUTHORITY_HOST, ENTRA_APPS
from postroom_smtp.validation import tls_ca_file_problems


def _blank(value: str | Secret | None) -> bool:
    text = value.reveal() if isinstance(value, Secret) else value
    return text is not None and not text.strip()


def _oauth2(config: Microsoft365Config) -> list[Problem]:
    settings = config.oauth2
    found = [Problem.error(f"oauth2.{name}", f"oauth2.{name} is empty",
                           f"set oauth2.{name} from the app's page in {ENTRA_APPS}")
             for name, value in (("tenant", settings.tenant), ("client_id", settings.client_id),
                                 ("client_secret", settings.client_secret),
                                 ("refresh_token", settings.refresh_token))
             if _blank(value)]
    if settings.refresh_token is None and settings.client_secret is None:
        found.append(Problem.error(
            "oauth2.client_secret", "no credential: sending as the app (app-only) needs the "
            "app's client secret",
            "set oauth2.client_secret (for example { env = \"M365_CLIENT_SECRET\" }), or give "
            "oauth2.refresh_token to send as a user who granted the app access"))
    url = urlsplit(settings.authority_host)
    if url.scheme != "https" or not url.hostname or url.path not in ("", "/"):
        found.append(Problem.error(
            "oauth2.authority_host", f"{settings.authority_host!r} is not an https:// host "
            "address", f'leave it out for Microsoft\'s, "{AUTHORITY_HOST}" (a national cloud '
            "has its own, such as https://login.microsoftonline.us)"))
    return found


def _limits(config: Microsoft365Config) -> list[Problem]:
    found = []
    if config.max_recipients > RECIPIENTS_PER_MESSAGE_MAX:
        found.append(Problem.error(
            "max_recipients", f"Exchange Online takes at most {RECIPIENTS_PER_MESSAGE_MAX} "
            f"recipients per message, not {config.max_recipients}",
            "set max_recipients to the mailbox's recipient limit (500 unless an admin raised "
            "it), or leave it out"))
    if config.port == 465:
        found.append(Problem.error(
            "port", "Exchange Online does not take mail with SSL on port 465",
            f"leave port out: Exchange Online takes mail on {SUBMISSION_PORT} with STARTTLS"))
    return found


def problems(config: Microsoft365Config) -> list[Problem]:
    """Every mistake in ``config`` that can be found without going online."""
    return _oauth2(config) + _limits(config) + tls_ca_file_problems(config.tls_ca_file)
