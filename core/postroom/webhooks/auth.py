"""A shared secret in the webhook address: proof for providers that sign nothing.

A provider with a signature scheme of its own (Vonage's signed webhooks) is
checked by its plugin with that scheme. For one that signs nothing, the admin
makes up a secret, sets it in the account (``webhook_secret``) and puts it in
the address they give the provider, as a Basic password
(``https://postroom:SECRET@example.org/hooks/texts/``) or a ``token`` in the
query (``https://example.org/hooks/texts/?token=SECRET``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac

from postroom.secrets import Secret
from postroom.webhooks.request import WebhookRequest

TOKEN_PARAMETER = "token"  # noqa: S105 - the name of a query parameter


def _offered(request: WebhookRequest) -> list[str]:
    """Every secret the call offers: a Basic password, a Bearer token, ``?token=``."""
    found = []
    scheme, _, value = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            found.append(base64.b64decode(value.strip(), validate=True).decode().partition(
                ":")[2])
    elif scheme.lower() == "bearer":
        found.append(value.strip())
    if request.query.get(TOKEN_PARAMETER):
        found.append(request.query[TOKEN_PARAMETER])
    return found


def shared_secret_problem(request: WebhookRequest, secret: Secret | None,
                          setting: str = "webhook_secret") -> str | None:
    """Why ``request`` does not prove it knows ``secret``, or None when it does.

    ``setting`` names the account setting in the texts, which never quote a
    secret. Comparisons take the same time whatever the secret offered.
    """
    if secret is None:
        return (f"the account has no {setting}, so nothing shows this call comes from the "
                f"provider: set {setting} and add it to the webhook address given to the "
                f"provider (user:{setting}@ or ?{TOKEN_PARAMETER}=)")
    offered = _offered(request)
    if not offered:
        return (f"the call carries no secret: give the provider the webhook address with "
                f"the account's {setting} in it (user:{setting}@ or ?{TOKEN_PARAMETER}=)")
    expected = secret.reveal().encode()
    if not any(hmac.compare_digest(value.encode(), expected) for value in offered):
        return (f"the call's secret does not match the account's {setting}: check the "
                "webhook address set at the provider, or this call is not from it")
    return None


__all__ = ["TOKEN_PARAMETER", "shared_secret_problem"]
