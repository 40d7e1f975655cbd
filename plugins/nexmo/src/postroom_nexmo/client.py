"""The HTTPS client of the REST host: send one SMS, read the balance.

One ``requests.Session`` per batch keeps its connections alive, so a batch
pays for the TLS handshake once per connection, not once per message. Every
failure becomes an ``ApiError`` whose text was written here, never a library
message: those quote the request's address, and the API secret must not
reach a result, a diagnosis or a log.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import ssl
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import requests
from attrs import frozen
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from postroom.results import Outcome
from postroom_nexmo.config import NexmoConfig
from postroom_nexmo.signing import sign

SMS_PATH = "/sms/json"
BALANCE_PATH = "/account/get-balance"


@functools.cache
def _user_agent() -> str:
    try:
        return f"postroom-nexmo/{importlib.metadata.version('postroom-nexmo')}"
    except importlib.metadata.PackageNotFoundError:
        return "postroom-nexmo"


@frozen
class ApiError(Exception):
    """A call that got no usable answer.

    ``outcome`` says what a message should do about it (wait, retry, give
    up); ``stage`` and ``category`` place it for a diagnosis (``tls``,
    ``tls-untrusted``); ``text`` says what happened and ``hint`` what to change.
    """

    outcome: Outcome
    code: str | None
    stage: str
    category: str
    text: str
    hint: str = ""
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.text


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (as typed or URL-encoded) replaced by ``***``."""
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            if form:
                text = text.replace(form, "***")
    return text


def _root_cause(exc: BaseException) -> BaseException:
    """The error under the wrappers requests and urllib3 put around it."""
    seen = 0
    while seen < 10:
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        if inner is None:
            inner = exc.__cause__ or exc.__context__
        if inner is None:
            return exc
        exc, seen = inner, seen + 1
    return exc


def _why(exc: BaseException) -> str:
    cause = _root_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return cause.verify_message or "certificate verify failed"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return type(cause).__name__


class NexmoClient:
    """A session with the REST host of one account; use it as a context manager."""

    def __init__(self, config: NexmoConfig) -> None:
        self.config = config
        self.host = urlsplit(config.base_url).netloc
        self._secrets = [s.reveal() for s in (config.api_secret, config.signature_secret) if s]
        self.session = requests.Session()
        # requests reads proxy and CA variables from the environment on every
        # request, a fifth of the time a request takes here; read them once.
        self.session.proxies.update(requests.utils.get_environ_proxies(config.base_url))
        self.session.verify = str(config.ca_bundle) if config.ca_bundle else (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True)
        self.session.trust_env = False
        self.session.headers.update({"User-Agent": _user_agent(), "Accept": "application/json"})
        self._adapter = HTTPAdapter(pool_connections=1, pool_maxsize=config.connections,
                                    pool_block=True, max_retries=0)
        self.session.mount("https://", self._adapter)
        self.session.mount("http://", self._adapter)

    def __enter__(self) -> NexmoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def send_sms(self, form: Mapping[str, str]) -> dict:
        """POST one message (form fields as the API names them); the parsed reply."""
        config = self.config
        body = {**form, "api_key": config.api_key}
        if config.signature_secret:
            body = sign(body, config.signature_secret.reveal(), config.method)
        else:
            body["api_secret"] = config.api_secret.reveal()
        return self._call("POST", SMS_PATH, form=body)

    def balance(self) -> dict:
        """The account balance: ``{"value": 3.14, "autoReload": false}``."""
        # Basic authentication keeps the secret out of the address, where logs look.
        auth = (self.config.api_key, self.config.api_secret.reveal())
        return self._call("GET", BALANCE_PATH, auth=auth)

    def _post_form(self, path: str, form: Mapping[str, str]) -> requests.Response:
        """POST ``form`` straight through the session's adapter.

        ``Session.request`` merges settings, cookies and hooks on every call,
        about 40 % of a request's time here and none of it needed: the
        settings were read once in ``__init__``, the API sets no cookies and
        answers without redirects. Errors are the same ``requests`` ones.
        """
        body = urlencode(form).encode()
        request = requests.PreparedRequest()
        request.method = "POST"
        request.url = self.config.base_url + path
        request.headers = CaseInsensitiveDict(self.session.headers)
        request.headers["Content-Type"] = "application/x-www-form-urlencoded"
        request.headers["Content-Length"] = str(len(body))
        request.body = body
        request.hooks = {"response": []}
        response = self._adapter.send(request, timeout=self.config.timeout,
                                      verify=self.session.verify, proxies=self.session.proxies)
        # Read the whole answer now, as Session.send does, so the connection
        # goes back to the pool even when the status is an error.
        response.content  # noqa: B018
        return response

    def _call(self, method: str, path: str, form: Mapping[str, str] | None = None,
              **kw: object) -> dict:
        try:
            if form is not None:
                response = self._post_form(path, form)
            else:
                response = self.session.request(method, self.config.base_url + path,
                                                timeout=self.config.timeout, **kw)
        except requests.exceptions.SSLError as exc:
            raise self._tls_error(exc) from None
        except requests.exceptions.ConnectTimeout:
            raise self._error(Outcome.TRANSIENT, None, "connect", "timeout",
                              f"no connection to {self.host} within {self.config.timeout:g} s",
                              "check the network path to the host, or raise timeout") from None
        except requests.exceptions.Timeout:
            raise self._error(Outcome.TRANSIENT, None, "api", "timeout",
                              f"{self.host} did not answer {path} within "
                              f"{self.config.timeout:g} s",
                              "the API is slow or the network drops packets; raise timeout "
                              "if this keeps happening") from None
        except requests.exceptions.RequestException as exc:
            raise self._error(Outcome.TRANSIENT, None, "connect", "connect-failed",
                              f"cannot connect to {self.host}: {_why(exc)}",
                              "check base_url and that this machine can reach it") from None
        return self._parse(response, path)

    def _parse(self, response: requests.Response, path: str) -> dict:
        status = response.status_code
        code = f"HTTP {status}"
        if status == 401:
            raise self._error(Outcome.PERMANENT, code, "auth", "auth-failed",
                              f"{self.host} refused the credentials for api_key "
                              f"{self.config.api_key!r} (HTTP 401)",
                              "check api_key and api_secret in the dashboard's API settings")
        if status == 429:
            raise self._error(Outcome.THROTTLED, code, "api", "throttled",
                              f"{self.host} asked to slow down (HTTP 429)",
                              "lower rate_per_second",
                              retry_after=_seconds(response.headers.get("Retry-After")))
        if status >= 400:
            raise self._error(Outcome.TRANSIENT, code, "api", "http-error",
                              f"{self.host} answered {path} with HTTP {status} {response.reason}",
                              "a server error usually passes; retry later")
        try:
            reply = response.json(parse_float=Decimal)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise self._error(Outcome.TRANSIENT, code, "api", "bad-response",
                              f"{self.host} answered {path} with something other than a JSON "
                              f"object ({response.headers.get('Content-Type', 'no type')})",
                              "check that base_url is the SMS API's REST host")
        return reply

    def _error(self, outcome: Outcome, code: str | None, stage: str, category: str, text: str,
               hint: str, retry_after: float | None = None) -> ApiError:
        return ApiError(outcome, code, stage, category, scrub(text, self._secrets), hint,
                        retry_after)

    def _tls_error(self, exc: requests.exceptions.SSLError) -> ApiError:
        why = _why(exc)
        if isinstance(_root_cause(exc), ssl.SSLCertVerificationError):
            # Only an admin can fix trust: stop the account (messages stay queued)
            # rather than spend every message's retries, as the SMTP plugin does.
            return self._error(Outcome.ACCOUNT_STOPPED, None, "tls", "tls-untrusted",
                               f"the certificate of {self.host} is not trusted: {why}",
                               "if the host uses a private CA, set ca_bundle to its PEM file; "
                               "otherwise something is intercepting the connection")
        return self._error(Outcome.TRANSIENT, None, "tls", "tls-failed",
                           f"TLS with {self.host} failed: {why}",
                           "check that base_url starts with https:// and names the API host")


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
