"""Offline checks of a ``gmail`` account: one credential, Gmail's limits, matching presets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from postroom import Problem
from postroom_gmail.config import PERSONAL_DOMAINS, SMTP_RECIPIENT_LIMIT, GmailConfig
from postroom_smtp import SMTP_PORTS
from postroom_smtp.validation import tls_ca_file_problems

# Google's app passwords are 16 letters (shown in groups of four).
_APP_PASSWORD = re.compile(r"[a-z]{16}")


def _credential(config: GmailConfig) -> list[Problem]:
    if config.app_password is None and config.oauth2 is None:
        return [Problem.error("app_password", "no credential: Gmail needs an app password or "
                              "OAuth2", 'set app_password (for example { env = '
                              '"GMAIL_APP_PASSWORD" }), or add an [oauth2] table with '
                              "client_id, client_secret and refresh_token")]
    if config.app_password is not None and config.oauth2 is not None:
        return [Problem.error("app_password", "both app_password and oauth2 are set",
                              "keep one way of logging in: remove app_password or the oauth2 "
                              "table")]
    if config.oauth2 is not None:
        return _oauth2(config)
    letters = "".join(config.app_password.reveal().split())
    if not _APP_PASSWORD.fullmatch(letters.lower()):
        return [Problem.warning("app_password", "this does not look like a Google app "
                                "password (16 letters); Gmail refuses the account's own "
                                "password with 534 5.7.9",
                                "create an app password for the account and use it here")]
    return []


def _oauth2(config: GmailConfig) -> list[Problem]:
    settings = config.oauth2
    found = [Problem.error(f"oauth2.{name}", f"oauth2.{name} is empty",
                           f"set oauth2.{name} from the OAuth client in the Google Cloud "
                           "console and the token its user granted")
             for name, value in (("client_id", settings.client_id),
                                 ("client_secret", settings.client_secret.reveal()),
                                 ("refresh_token", settings.refresh_token.reveal()))
             if not value.strip()]
    url = urlsplit(settings.token_url)
    if url.scheme not in ("https", "http") or not url.hostname:
        found.append(Problem.error("oauth2.token_url", f"{settings.token_url!r} is not a URL",
                                   'leave it out for Google\'s, '
                                   '"https://oauth2.googleapis.com/token"'))
    elif url.scheme == "http":
        found.append(Problem.warning("oauth2.token_url", "the client secret and refresh token "
                                     "would go to the token endpoint unencrypted",
                                     "use an https:// token URL"))
    return found


def _limits(config: GmailConfig) -> list[Problem]:
    found = []
    domain = config.address.rpartition("@")[2].lower()
    if config.account_type == "workspace" and domain in PERSONAL_DOMAINS:
        found.append(Problem.error(
            "account_type", f"{domain} addresses are personal Google accounts, not Workspace",
            'set account_type = "personal" (or leave it out: it is read from the address); '
            "a Workspace daily cap would run into Gmail's personal quota"))
    if config.max_recipients > SMTP_RECIPIENT_LIMIT:
        found.append(Problem.error(
            "max_recipients", f"Gmail takes at most {SMTP_RECIPIENT_LIMIT} recipients per "
            f"message sent over SMTP, not {config.max_recipients}",
            f"set max_recipients to {SMTP_RECIPIENT_LIMIT} or less, or leave it out"))
    return found


def _ports(config: GmailConfig) -> list[Problem]:
    server = config.server
    wanted = {port: security for security, port in SMTP_PORTS.items() if security != "none"}
    expected = wanted.get(server.port)
    if expected is None or expected == server.security:
        return []
    return [Problem.error("security", f'security = "{server.security}" on port {server.port}, '
                          f'where Gmail speaks "{expected}"',
                          f'set security = "{expected}", or leave port out: Gmail uses 465 '
                          'for "ssl" and 587 for "starttls"')]


def problems(config: GmailConfig) -> list[Problem]:
    """Every mistake in ``config`` that can be found without going online."""
    return (_credential(config) + _limits(config) + _ports(config)
            + tls_ca_file_problems(config.tls_ca_file))
