"""Access tokens from the Microsoft identity platform (Entra ID), fetched with MSAL.

MSAL, Microsoft's own library, speaks the platform's protocol: OpenID
discovery of the tenant's token endpoint, then a client-credentials grant
(app-only: the app sends as itself, scope ``https://outlook.office365.com/
.default``) or a refresh-token grant (a delegated mailbox, scope
``https://outlook.office.com/SMTP.Send``). Its requests go through
``postroom.http``, which bounds them with the account's timeout, checks
certificates against the account's CA file and words network failures for
people. The authority host can be pointed elsewhere (a national cloud, a
test server), with MSAL's instance discovery off.

Tokens are kept in ``TOKENS`` (``postroom_smtp.TokenCache``) until shortly
before they expire; every refusal becomes a ``TokenError`` whose finding
names the AADSTS code, what it means and what the office admin changes.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import msal
import requests
from attrs import field, frozen
from msal.exceptions import MsalServiceError

from postroom import Secret
from postroom.http import HttpClient, HttpError, scrub, user_agent
from postroom_smtp import Finding, TokenCache, TokenError, TokenSource

log = logging.getLogger("postroom_microsoft365")

AUTHORITY_HOST = "https://login.microsoftonline.com"
APP_SCOPES = ("https://outlook.office365.com/.default",)
DELEGATED_SCOPES = ("https://outlook.office.com/SMTP.Send",)
ENTRA_APPS = ("Microsoft Entra admin center (entra.microsoft.com), Applications, "
              "App registrations")
# The platform's access tokens last 60 to 90 minutes; an answer without expires_in is read so.
DEFAULT_LIFETIME = 3600.0
_AADSTS = re.compile(r"AADSTS(\d+)")

TOKENS = TokenCache()
"""The process's access tokens, shared by every Microsoft 365 account it sends for."""


@frozen
class EntraGrant:
    """An app registration in a tenant, and a refresh token for a delegated mailbox.

    Without ``refresh_token`` the grant is app-only (client credentials).
    """

    authority_host: str
    tenant: str
    client_id: str
    client_secret: Secret | None = field(default=None, repr=False)
    refresh_token: Secret | None = field(default=None, repr=False)

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant}"

    @property
    def app_only(self) -> bool:
        return self.refresh_token is None

    @property
    def secrets(self) -> list[str]:
        return [s.reveal() for s in (self.client_secret, self.refresh_token) if s is not None]


class _PlatformHttp(HttpClient):
    """``postroom.http`` as MSAL's ``http_client``: its ``get`` and ``post`` on whole URLs.

    ``answers`` keeps each answer's status and body, so a refusal can be read
    even where MSAL only raises.
    """

    server = "the Microsoft identity platform"

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)
        self.answers: list[requests.Response] = []

    def get(self, url: str, **kw: object) -> requests.Response:
        return self._keep(self.request("GET", url, **kw))

    def post(self, url: str, **kw: object) -> requests.Response:
        return self._keep(self.request("POST", url, **kw))

    def _keep(self, response: requests.Response) -> requests.Response:
        self.answers.append(response)
        return response


def request_token(grant: EntraGrant, timeout: float,
                  ca_file: Path | None = None) -> tuple[Secret, float]:
    """A new access token and its lifetime in seconds; ``TokenError`` when there is none.

    ``ca_file`` is a PEM file of CA certificates to trust instead of the usual ones.
    """
    with _PlatformHttp(grant.authority_host, timeout=timeout,
                       user_agent=user_agent("postroom-microsoft365"), ca_bundle=ca_file,
                       secrets=grant.secrets) as http:
        try:
            result = _acquire(grant, http)
        except HttpError as error:
            raise TokenError(_unreachable(grant, error)) from None
        except (MsalServiceError, ValueError):
            # MSAL raises for a discovery it cannot use and for a 5xx: read the answer.
            answer = http.answers[-1] if http.answers else None
            # Not "if answer": a requests answer with an error status is falsy.
            status = answer.status_code if answer is not None else 0
            raise TokenError(_refusal(grant, status, _json(answer))) from None
    token, lifetime = result.get("access_token"), result.get("expires_in", DEFAULT_LIFETIME)
    if isinstance(token, str) and token and isinstance(lifetime, int | float):
        return Secret(token, "the identity platform"), float(lifetime)
    status = http.answers[-1].status_code if http.answers else 0
    raise TokenError(_refusal(grant, status, result))


def _acquire(grant: EntraGrant, http: _PlatformHttp) -> dict:
    """Discover the tenant's endpoints and ask for a token, as the grant says."""
    options = {"authority": grant.authority, "http_client": http, "instance_discovery": False}
    secret = grant.client_secret.reveal() if grant.client_secret else None
    if grant.app_only:
        app = msal.ConfidentialClientApplication(grant.client_id, client_credential=secret,
                                                 **options)
        return app.acquire_token_for_client(scopes=list(APP_SCOPES))
    # A refresh token may come from a public client (no secret) or a confidential one.
    app = (msal.ConfidentialClientApplication(grant.client_id, client_credential=secret,
                                              **options) if secret else
           msal.PublicClientApplication(grant.client_id, **options))
    return app.acquire_token_by_refresh_token(grant.refresh_token.reveal(),
                                              scopes=list(DELEGATED_SCOPES))


def _json(response: requests.Response | None) -> dict:
    if response is None:
        return {}
    try:
        body = json.loads(response.text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def aadsts_code(body: dict) -> int | None:
    """The AADSTS number of a refusal: from ``error_codes``, else its description."""
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    found = _AADSTS.search(str(body.get("error_description", "")))
    return int(found.group(1)) if found else None


def _said(grant: EntraGrant, status: int, body: dict) -> str:
    """What the platform said, in one line: status, error and the description's first part."""
    error, description = body.get("error"), body.get("error_description")
    text = f"HTTP {status}" if status else "no answer"
    if isinstance(error, str):
        text += f" {error}"
    if isinstance(description, str) and description:
        # The trace and correlation ids that follow help Microsoft's support, not the admin;
        # blanked before it is cut, so a secret at the cut leaves no piece.
        first = description.split(" Trace ID:")[0]
        text += f" ({scrub(first, grant.secrets)[:300]})"
    return scrub(text, grant.secrets)


@frozen
class _Reading:
    """What an AADSTS code means for the admin: a category, a hint and whether it stops."""

    category: str
    hint: Callable[[EntraGrant], str]
    stops_account: bool = True


def _consent(grant: EntraGrant) -> str:
    permission = ("SMTP.SendAsApp (an application permission)" if grant.app_only else
                  "SMTP.Send (a delegated permission)")
    return (f"an administrator of the tenant grants consent to the app {grant.client_id}: "
            f"{ENTRA_APPS}, the app, API permissions, \"Grant admin consent\"; the app needs "
            f"Office 365 Exchange Online's {permission}")


def _new_refresh_token(grant: EntraGrant) -> str:
    return ("the mailbox's user signs in again to grant a new refresh token (the old one "
            "expired after 90 days unused, or was revoked by a password change or an admin), "
            "and it goes in oauth2.refresh_token")


_READINGS: dict[int, _Reading] = {
    7000215: _Reading("client-secret-invalid", lambda g: (
        "oauth2.client_secret is not the app's secret: copy the secret's Value (not its "
        f"Secret ID) from {ENTRA_APPS}, the app {g.client_id}, Certificates & secrets; "
        "create a new secret there if the value is lost")),
    7000222: _Reading("client-secret-expired", lambda g: (
        f"the app's client secret has expired: create a new one in {ENTRA_APPS}, the app "
        f"{g.client_id}, Certificates & secrets, and put its Value in oauth2.client_secret")),
    700016: _Reading("app-not-found", lambda g: (
        f"there is no app {g.client_id} in the tenant {g.tenant!r}: check oauth2.client_id "
        "(the Application (client) ID) and oauth2.tenant (the Directory (tenant) ID) on the "
        "app's Overview page")),
    90002: _Reading("tenant-not-found", lambda g: (
        f"there is no tenant {g.tenant!r}: set oauth2.tenant to the Directory (tenant) ID "
        "from the app's Overview page, or to the tenant's domain such as "
        "contoso.onmicrosoft.com")),
    65001: _Reading("app-not-consented", _consent),
    70011: _Reading("scope-invalid", lambda g: (
        "the app may not ask for SMTP sending: add Office 365 Exchange Online's SMTP.Send "
        f"permission to the app {g.client_id} and grant consent, then get a new refresh "
        "token")),
    70008: _Reading("refresh-token-invalid", _new_refresh_token),
    700082: _Reading("refresh-token-invalid", _new_refresh_token),
    50173: _Reading("refresh-token-invalid", _new_refresh_token),
    50076: _Reading("interaction-required", lambda g: (
        "the tenant wants the user to sign in interactively (multi-factor authentication "
        "or a Conditional Access policy): get a new refresh token with a sign-in that passes "
        "it, or exclude this app from the policy")),
    53003: _Reading("conditional-access-blocked", lambda g: (
        "a Conditional Access policy blocks this sign-in: an admin allows the app (or this "
        "machine's network) in Microsoft Entra admin center, Protection, Conditional Access")),
    50057: _Reading("user-disabled", lambda g: (
        "the mailbox's user account is disabled: an admin enables it in the Microsoft 365 "
        "admin center, Users, Active users")),
    500011: _Reading("exchange-not-available", lambda g: (
        "the tenant has no Exchange Online: the mailbox needs a Microsoft 365 plan that "
        "includes Exchange Online")),
}
_READINGS[50079] = _READINGS[50076]


def _refusal(grant: EntraGrant, status: int, body: dict) -> Finding:
    said = _said(grant, status, body)
    error, code = body.get("error"), aadsts_code(body)
    reading = _READINGS.get(code) if code is not None else None
    if reading is not None:
        return Finding("token", reading.category,
                       f"the identity platform refused a token: {said}", reading.hint(grant),
                       reading.stops_account)
    if status == 429 or status >= 500 or error in ("temporarily_unavailable", "server_error"):
        return Finding("token", "token-endpoint-busy",
                       f"the identity platform could not answer now: {said}",
                       "Microsoft's sign-in service is busy or failing; postroom tries again "
                       "later", False)
    if isinstance(error, str):
        return Finding("token", "token-refused", f"the identity platform refused a token: {said}",
                       "check the oauth2 settings: tenant, client_id, client_secret and, for a "
                       "delegated mailbox, refresh_token must all belong to one app "
                       "registration", True)
    return Finding("token", "token-endpoint-failed",
                   f"{grant.authority} did not answer as the identity platform does: {said}",
                   f'check oauth2.authority_host (Microsoft\'s is "{AUTHORITY_HOST}") and '
                   "oauth2.tenant", True)


def _unreachable(grant: EntraGrant, error: HttpError) -> Finding:
    if error.stage == "tls" or error.category == "ca-file-unusable":
        return Finding("token", "token-endpoint-tls",
                       f"TLS with the identity platform failed: {error.text}",
                       "if a company proxy inspects TLS, set tls_ca_file to its CA certificate "
                       "(a PEM file); otherwise check oauth2.authority_host", True)
    return Finding("token", "token-endpoint-unreachable",
                   f"cannot reach the identity platform at {grant.authority_host}: {error.text}",
                   "check this machine's network connection and oauth2.authority_host; "
                   "postroom tries again later", False)


def token_source(grant: EntraGrant, user: str, timeout: float, ca_file: Path | None = None,
                 cache: TokenCache = TOKENS) -> TokenSource:
    """Access tokens for the mailbox ``user`` from ``grant``, kept in ``cache``."""
    key = (grant.authority, grant.client_id, user, grant.client_secret, grant.refresh_token)
    return TokenSource(functools.partial(request_token, grant, timeout, ca_file), key, user,
                       cache, describe=grant.authority, log=log)
