"""The HTTPS client of the REST host: send one SMS, read the balance.

One session per batch keeps its connections alive, so a batch pays for the
TLS handshake once per connection, not once per message. Every failure
becomes an ``ApiError`` whose text was written here or in ``postroom.http``
(quoting at most an error document's title and detail, scrubbed), never a
library message: those quote the request's address, and the API secret must
not reach a result, a diagnosis or a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import urlencode

import requests
from attrs import frozen
from requests.structures import CaseInsensitiveDict

from postroom.http import HttpClient, HttpError, read_problem, retry_after, scrub, user_agent
from postroom.results import Outcome
from postroom_nexmo.config import NexmoConfig
from postroom_nexmo.signing import sign

__all__ = ["BALANCE_PATH", "SMS_PATH", "ApiError", "NexmoClient"]

SMS_PATH = "/sms/json"
BALANCE_PATH = "/account/get-balance"
PROBLEM_CHARS = 200
"""Longest quote of an error answer's title and detail."""


@frozen
class ApiError(HttpError):
    """A call to the REST host that got no usable answer (see ``postroom.http.HttpError``)."""


class NexmoClient(HttpClient):
    """A session with the REST host of one account; use it as a context manager."""

    server = "the host"
    error_type = ApiError

    def __init__(self, config: NexmoConfig) -> None:
        super().__init__(config.base_url, timeout=config.timeout,
                         user_agent=user_agent("postroom-nexmo"), ca_bundle=config.ca_bundle,
                         secrets=[s.reveal() for s in (config.api_secret,
                                                       config.signature_secret) if s],
                         connections=config.connections)
        self.config = config

    def send_sms(self, form: Mapping[str, str]) -> dict:
        """POST one message (form fields as the API names them); the parsed reply."""
        config = self.config
        body = {**form, "api_key": config.api_key}
        if config.signature_secret:
            body = sign(body, config.signature_secret.reveal(), config.method)
        else:
            body["api_secret"] = config.api_secret.reveal()
        try:
            response = self._post_form(SMS_PATH, body)
        except OSError as exc:  # requests' own errors, and its plain OSError for a CA file
            raise self.network_error(exc, SMS_PATH) from None
        return self._parse(response, SMS_PATH)

    def balance(self) -> dict:
        """The account balance: ``{"value": 3.14, "autoReload": false}``."""
        # Basic authentication keeps the secret out of the address, where logs look.
        auth = (self.config.api_key, self.config.api_secret.reveal())
        return self._parse(self.request("GET", BALANCE_PATH, auth=auth), BALANCE_PATH)

    def _post_form(self, path: str, form: Mapping[str, str]) -> requests.Response:
        """POST ``form`` straight through the session's adapter.

        ``Session.request`` merges settings, cookies and hooks on every call,
        about 40 % of a request's time here and none of it needed: the
        settings were read once in ``__init__``, the API sets no cookies and
        answers without redirects. Errors are the same ones ``request`` meets:
        ``requests`` exceptions, and the plain ``OSError`` of a CA file that
        is missing.
        """
        body = urlencode(form).encode()
        request = requests.PreparedRequest()
        request.method = "POST"
        request.url = self.base_url + path
        request.headers = CaseInsensitiveDict(self.session.headers)
        request.headers["Content-Type"] = "application/x-www-form-urlencoded"
        request.headers["Content-Length"] = str(len(body))
        request.body = body
        request.hooks = {"response": []}
        response = self.adapter.send(request, timeout=self.timeout,
                                     verify=self.session.verify, proxies=self.session.proxies)
        # Read the whole answer now, as Session.send does, so the connection
        # goes back to the pool even when the status is an error.
        response.content  # noqa: B018
        return response

    def _parse(self, response: requests.Response, path: str) -> dict:
        status = response.status_code
        if status >= 400:
            raise self._refusal(response, path)
        try:
            reply = response.json(parse_float=Decimal)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            # A success status: the API may have taken the message all the same.
            raise self.error(Outcome.TRANSIENT, f"HTTP {status}", "api", "bad-response",
                             f"{self.host} answered {path} with something other than a JSON "
                             f"object ({response.headers.get('Content-Type', 'no type')})",
                             "check that base_url is the SMS API's REST host",
                             maybe_processed=True)
        return reply

    def _refusal(self, response: requests.Response, path: str) -> ApiError:
        """The error for an HTTP error status, mapped as the provider guide maps them.

        The SMS API answers its own refusals (credentials, credit, a bad
        number) with HTTP 200 and a status per part (``statuses.py``); an
        error status comes from Vonage's front end, whose documented errors
        are about the account (401 unauthorized, 403 forbidden or out of
        credit) or the request as a whole.
        """
        status = response.status_code
        code = f"HTTP {status}"
        said = self._problem(response) or f"HTTP {status} {response.reason}"
        if status == 401:
            # Bad credentials stop the account: only an admin can fix them, and the
            # messages wait for the fix instead of failing for good.
            return self.error(Outcome.ACCOUNT_STOPPED, code, "auth", "auth-failed",
                              f"{self.host} refused the credentials for api_key "
                              f"{self.config.api_key!r} ({said})",
                              "check api_key and api_secret in the dashboard's API settings")
        if status == 403:
            return self.error(Outcome.ACCOUNT_STOPPED, code, "auth", "forbidden",
                              f"{self.host} refused to serve {path} for this account ({said})",
                              "check in the dashboard that the account is active, may use the "
                              "SMS API and has credit")
        if status == 404:  # every request of the account would meet the same
            return self.error(Outcome.ACCOUNT_STOPPED, code, "api", "not-found",
                              f"{self.host} has no {path} (HTTP 404)",
                              "check base_url: it is the REST host, such as "
                              "https://rest.nexmo.com")
        if status == 429:
            return self.error(Outcome.THROTTLED, code, "api", "throttled",
                              f"{self.host} asked to slow down (HTTP 429)",
                              "lower rate_per_second",
                              retry_after=retry_after(response.headers.get("Retry-After")))
        if status == 400:
            return self.error(Outcome.PERMANENT, code, "send", "bad-request",
                              f"{self.host} refused the request to {path} ({said})",
                              "correct the number, sender or text the answer names")
        if status >= 500:
            return self.error(Outcome.TRANSIENT, code, "api", "server-error",
                              f"{self.host} failed to answer {path} ({said})",
                              "a fault at the provider usually passes, and postroom retries",
                              maybe_processed=True)
        return self.error(Outcome.TRANSIENT, code, "api", "http-error",
                          f"{self.host} answered {path} with {said}",
                          "check base_url, and any proxy between postroom and the host")

    def _problem(self, response: requests.Response) -> str:
        """``title: detail`` of an RFC 7807 error answer (how Vonage documents its
        errors), scrubbed before it is cut short so no part of a secret is left;
        empty when the body is not one."""
        return scrub(read_problem(response.content).describe(), self.secrets)[:PROBLEM_CHARS]
