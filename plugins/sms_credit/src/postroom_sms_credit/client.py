"""The HTTPS client of the gateway: submit messages, read the profile.

A ``Gateway`` holds one ``requests.Session`` for a batch, so its POSTs share
a kept-alive connection. Credentials go in the Basic ``Authorization``
header only. Every failure becomes a ``GatewayError`` whose text is written
here (library messages quote addresses and internals) and scrubbed of the
secrets all the same, since a gateway's own error text is quoted in it.
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
import socket
import ssl
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlsplit

import attrs
import requests
from requests.adapters import HTTPAdapter

from postroom.results import Outcome
from postroom_sms_credit.config import SmsCreditConfig
from postroom_sms_credit.errors import GatewayError, scrub
from postroom_sms_credit.refusals import read_problem, refusal

MESSAGES_PATH = "/messages"
PROFILE_PATH = "/profile"
DEDUPLICATION_PARAMETER = "deduplication-id"


@functools.cache
def user_agent() -> str:
    """``postroom-sms-credit/VERSION``, so the gateway's logs show who called."""
    try:
        return f"postroom-sms-credit/{importlib.metadata.version('postroom-sms-credit')}"
    except importlib.metadata.PackageNotFoundError:
        return "postroom-sms-credit"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors under it, which requests and urllib3 wrap in layers."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        pending += [e for e in (reason, *current.args, current.__cause__, current.__context__)
                    if isinstance(e, BaseException)]


def _first(exc: BaseException, kind: type[BaseException] | tuple) -> BaseException | None:
    return next((e for e in _chain(exc) if isinstance(e, kind)), None)


def _basic(user: str, password: str) -> str:
    """The Basic ``Authorization`` value, in UTF-8 (requests would use Latin-1 and fail
    on a secret with other characters)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the engine's own pause applies


class Gateway:
    """A session with one account's gateway; use it as a context manager."""

    def __init__(self, config: SmsCreditConfig) -> None:
        self.config = config
        self.host = urlsplit(config.base_url).netloc
        # Given per request: a session-wide setting would lose to REQUESTS_CA_BUNDLE.
        self.verify: str | bool = str(config.ca_bundle) if config.ca_bundle else True
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": user_agent(), "Accept": "application/json",
                                     "Authorization": _basic(*config.basic_auth())})
        # Resubmitting is this client's decision (with the deduplication id), not urllib3's.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def submit(self, entries: list[dict], deduplication_id: int) -> list[dict]:
        """POST ``entries`` as one submission; the message objects the gateway made."""
        answer = self._call("POST", MESSAGES_PATH, json=entries,
                            params={DEDUPLICATION_PARAMETER: str(deduplication_id)})
        if not isinstance(answer, list) or not all(isinstance(m, dict) for m in answer):
            # The submission may have been taken: resubmitting brings the real answer.
            raise self._error(Outcome.TRANSIENT, "HTTP 201", "api", "bad-response",
                              f"{self.host} answered {MESSAGES_PATH} with something other than "
                              "a list of messages", "check that base_url is the API root",
                              maybe_processed=True)
        return answer

    def profile(self) -> dict:
        """The account's profile: ``credits.balance``, ``quota``, ``username``..."""
        answer = self._call("GET", PROFILE_PATH)
        if not isinstance(answer, dict):
            raise self._error(Outcome.TRANSIENT, "HTTP 200", "api", "bad-response",
                              f"{self.host} answered {PROFILE_PATH} with something other than "
                              "a profile", "check that base_url is the API root")
        return answer

    def _call(self, method: str, path: str, **kw: object) -> object:
        try:
            response = self.session.request(method, self.config.base_url + path,
                                            timeout=self.config.timeout, verify=self.verify,
                                            **kw)
        except requests.exceptions.RequestException as exc:
            raise self._network_error(exc, path) from None
        if response.status_code >= 400:
            error = refusal(response.status_code, read_problem(response.content), self.host, path,
                            _retry_after(response.headers.get("Retry-After")))
            raise attrs.evolve(error, text=scrub(error.text, self.config.secrets()))
        try:
            return response.json(parse_float=Decimal)
        except ValueError:
            return None

    def _network_error(self, exc: requests.exceptions.RequestException,
                       path: str) -> GatewayError:
        timeout = f"{self.config.timeout:g} s"
        unverified = _first(exc, ssl.SSLCertVerificationError)
        if unverified is not None:
            why = getattr(unverified, "verify_message", "") or "certificate verify failed"
            return self._error(Outcome.TRANSIENT, None, "tls", "tls-untrusted",
                               f"the certificate of {self.host} is not trusted: {why}",
                               "if the gateway uses a private CA, set ca_bundle to its PEM "
                               "file; otherwise something is intercepting the connection")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return self._error(Outcome.TRANSIENT, None, "connect", "timeout",
                               f"no connection to {self.host} within {timeout}",
                               "check the network path to the gateway, or raise timeout")
        refused = _first(exc, (ConnectionRefusedError, socket.gaierror))
        if refused is not None:
            why = refused.strerror or type(refused).__name__
            return self._error(Outcome.TRANSIENT, None, "connect", "connect-failed",
                               f"cannot connect to {self.host}: {why}",
                               "check base_url and that this machine can reach the gateway")
        # From here on the request may have reached the gateway before things broke.
        if isinstance(exc, requests.exceptions.Timeout):
            return self._error(Outcome.TRANSIENT, None, "api", "timeout",
                               f"{self.host} did not answer {path} within {timeout}",
                               "the gateway is slow or the network drops packets; raise timeout "
                               "if it keeps happening", maybe_processed=True)
        if isinstance(exc, requests.exceptions.SSLError):
            return self._error(Outcome.TRANSIENT, None, "tls", "tls-failed",
                               f"TLS with {self.host} failed: {type(_deepest(exc)).__name__}",
                               "check that base_url starts with https:// and names the "
                               "gateway's API host", maybe_processed=True)
        return self._error(Outcome.TRANSIENT, None, "api", "connection-lost",
                           f"the connection to {self.host} broke before the answer to {path} "
                           f"came ({type(_deepest(exc)).__name__})",
                           "a network fault; it usually passes, and postroom retries",
                           maybe_processed=True)

    def _error(self, outcome: Outcome, code: str | None, stage: str, category: str, text: str,
               hint: str, **kw: object) -> GatewayError:
        return GatewayError(outcome, code, stage, category,
                            scrub(text, self.config.secrets()), hint, **kw)


def _deepest(exc: BaseException) -> BaseException:
    """The innermost error under ``exc``: the one that names what broke."""
    *_, last = _chain(exc)
    return last
