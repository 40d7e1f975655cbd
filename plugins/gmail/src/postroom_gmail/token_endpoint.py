"""Asking Google's OAuth2 token endpoint for an access token, and reading its refusals.

A refresh token is exchanged for a short-lived access token with one form
POST (``grant_type=refresh_token``, the client's id and secret, the refresh
token). The answer is JSON: ``access_token`` and ``expires_in`` (seconds), or
``error`` and ``error_description`` (RFC 6749, section 5.2). Every failure
becomes a ``TokenError`` whose ``finding`` tells the admin what to change.
"""

from __future__ import annotations

import re
from pathlib import Path

import requests
from attrs import frozen

from postroom import Secret
from postroom.http import scrub
from postroom_smtp import Finding
from postroom_smtp.xoauth2 import TokenError

# Google's access tokens last an hour; an answer without expires_in is read that way.
DEFAULT_LIFETIME = 3600.0
_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


@frozen
class OAuth2Client:
    """An OAuth client (``client_id``, ``client_secret``) and a refresh token granted to it."""

    token_url: str
    client_id: str
    client_secret: Secret
    refresh_token: Secret


def request_token(client: OAuth2Client, timeout: float,
                  ca_file: Path | None = None) -> tuple[Secret, float]:
    """A new access token and its lifetime in seconds; ``TokenError`` when there is none.

    ``ca_file`` is a PEM file of CA certificates to trust instead of the system's.
    """
    form = {"grant_type": "refresh_token", "client_id": client.client_id,
            "client_secret": client.client_secret.reveal(),
            "refresh_token": client.refresh_token.reveal()}
    try:
        response = requests.post(client.token_url, data=form, timeout=timeout,
                                 verify=str(ca_file) if ca_file else True,
                                 headers={"Accept": "application/json"})
    except requests.exceptions.SSLError as exc:
        raise TokenError(_tls_failed(client, exc)) from None
    except requests.Timeout:
        raise TokenError(_unreachable(client, f"no answer within {timeout:g} s")) from None
    except requests.RequestException as exc:
        found = _ERRNO_TEXT.search(str(exc))
        reason = found.group(1).strip() if found else type(exc).__name__
        raise TokenError(_unreachable(client, reason)) from None
    body = _json(response)
    token, lifetime = body.get("access_token"), body.get("expires_in", DEFAULT_LIFETIME)
    if response.ok and isinstance(token, str) and token and isinstance(lifetime, int | float):
        return Secret(token, "the token endpoint"), float(lifetime)
    raise TokenError(_refusal(client, response.status_code, body))


def _json(response: requests.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _said(client: OAuth2Client, status: int, body: dict[str, object]) -> str:
    """What the endpoint said, in one line, with any secret it echoed blanked out."""
    secrets = (client.client_secret.reveal(), client.refresh_token.reveal())
    error, description = body.get("error"), body.get("error_description")
    text = f"HTTP {status}"
    if isinstance(error, str):
        text += f" {error}"
    if isinstance(description, str) and description:
        # Blanked before it is cut: a secret cut in two would escape the blanking.
        text += f" ({scrub(description, secrets)[:200]})"
    return scrub(text, secrets)


def _refusal(client: OAuth2Client, status: int, body: dict[str, object]) -> Finding:
    said = _said(client, status, body)
    error = body.get("error")
    if error == "invalid_grant":
        return Finding("token", "refresh-token-invalid",
                       f"the token endpoint refused the refresh token: {said}",
                       "the refresh token was revoked or has expired (the user removed this "
                       "app's access, changed the Google password, left it unused for six "
                       "months, or the OAuth app is in testing, whose tokens last 7 days): "
                       "create a new refresh token for this address with the "
                       "https://mail.google.com/ scope and put it in oauth2.refresh_token", True)
    if error in ("invalid_client", "unauthorized_client"):
        return Finding("token", "oauth-client-invalid",
                       f"the token endpoint refused the OAuth client: {said}",
                       "check oauth2.client_id and oauth2.client_secret against the OAuth "
                       "client in the Google Cloud console (APIs & Services, Credentials); "
                       "the refresh token must come from that same client", True)
    if status == 429 or status >= 500:
        return Finding("token", "token-endpoint-busy",
                       f"the token endpoint could not answer now: {said}",
                       "Google's token service is busy or failing; postroom tries again later",
                       False)
    if isinstance(error, str):
        return Finding("token", "token-refused", f"the token endpoint refused: {said}",
                       "check the oauth2 settings: client_id, client_secret and refresh_token "
                       "must come from one OAuth client, the token granted for this address",
                       True)
    return Finding("token", "token-endpoint-failed",
                   f"{client.token_url} did not answer as a token endpoint does: {said}",
                   'check oauth2.token_url: Google\'s is "https://oauth2.googleapis.com/token"',
                   True)


def _unreachable(client: OAuth2Client, reason: str) -> Finding:
    return Finding("token", "token-endpoint-unreachable",
                   f"cannot reach the token endpoint {client.token_url}: {reason}",
                   "check this machine's network connection and oauth2.token_url; postroom "
                   "tries again later", False)


def _tls_failed(client: OAuth2Client, error: requests.exceptions.SSLError) -> Finding:
    reason = "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in str(error) else (
        "TLS handshake failed")
    return Finding("token", "token-endpoint-tls",
                   f"TLS with the token endpoint {client.token_url} failed: {reason}",
                   "if a company proxy inspects TLS, set tls_ca_file to its CA certificate (a "
                   "PEM file); otherwise check oauth2.token_url", True)
