"""``WebhookRequest``: one call to the webhook address, free of any web framework.

The webhook app (WSGI or ASGI) builds it from the call, and a plugin's
``postroom_receive`` reads it: the method, the path below the account's
prefix, headers (looked up without regard to case), the query, the raw body
and the caller's address. ``params()`` merges the query with a form or JSON
body, the way providers that accept GET and POST alike send their fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

from attrs import field, frozen

from postroom.errors import PostroomError

MAX_BODY = 1024 * 1024  # a webhook call carries a few kilobytes; a batch of reports, more


class RequestError(PostroomError, ValueError):
    """The call's body cannot be read as it claims to be (bad JSON, bad form)."""


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


@frozen(kw_only=True)
class WebhookRequest:
    """One webhook call, as the receive hook sees it.

    ``path`` is what follows ``/ACCOUNT`` in the address (``/`` or
    ``/receipts``), ``query`` the query string's fields (the first value of
    each), ``headers`` the headers by lower-case name, ``remote_addr`` the
    caller's IP address when known.
    """

    method: str
    path: str = "/"
    headers: Mapping[str, str] = field(factory=dict, converter=_lower_keys)
    query: Mapping[str, str] = field(factory=dict)
    body: bytes = b""
    remote_addr: str | None = None

    def header(self, name: str) -> str | None:
        """The header ``name`` (any case), or None."""
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case (``application/json``)."""
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def form(self) -> dict[str, str]:
        """The body as form fields (``application/x-www-form-urlencoded``)."""
        try:
            return dict(parse_qsl(self.body.decode(), keep_blank_values=True,
                                  strict_parsing=bool(self.body)))
        except (UnicodeDecodeError, ValueError):
            raise RequestError("the body is not valid form data") from None

    def json(self) -> object:
        """The body parsed as JSON; ``RequestError`` if it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RequestError("the body is not valid JSON") from None

    def params(self) -> dict[str, object]:
        """The query's fields, with a POST's form fields or JSON object over them."""
        found: dict[str, object] = dict(self.query)
        if self.method == "GET" or not self.body:
            return found
        if self.content_type == "application/json":
            data = self.json()
            if not isinstance(data, dict):
                raise RequestError("the JSON body is not an object")
            found.update(data)
        else:
            found.update(self.form())
        return found


__all__ = ["MAX_BODY", "RequestError", "WebhookRequest"]
