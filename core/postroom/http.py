"""HTTP plumbing for providers that speak to an HTTPS API: a session, errors worded for people.

A provider's client derives from ``HttpClient``, which holds one
``requests.Session`` for a batch (connections kept alive), and turns every
network failure into an ``HttpError`` that says what happened, where and
what to change, with the outcome the engine acts on. The provider reads the
HTTP answers itself, since what a status means is the API's business::

    from postroom.http import HttpClient, retry_after, user_agent

    class AcmeClient(HttpClient):
        server = "the Acme API"  # how hints name the other side

        def __init__(self, config: AcmeConfig) -> None:
            super().__init__(config.base_url, timeout=config.timeout,
                             user_agent=user_agent("postroom-acme-sms"),
                             ca_bundle=config.ca_bundle, secrets=[config.api_key.reveal()])

        def send(self, entry: dict) -> dict:
            response = self.request("POST", "/messages", json=entry)  # raises HttpError
            if response.status_code == 429:
                raise self.error(Outcome.THROTTLED, "HTTP 429", "api", "throttled",
                                 f"{self.host} asked to slow down", "lower the rate",
                                 retry_after=retry_after(response.headers.get("Retry-After")))
            ...

Settings are read once, when the client is made: the CA bundle (the
account's ``ca_bundle``, else ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``,
else the CA bundle requests ships (certifi), not the operating system's) and
the proxy for ``base_url`` (``HTTPS_PROXY``, ``NO_PROXY``...). ``requests``
would otherwise read the environment on every request, a fifth of a
request's time against a fast API, and let ``REQUESTS_CA_BUNDLE`` win over
the account's own setting. A CA file that is missing or holds no
certificate stops the account (``ca-file-unusable``): only an admin can fix it.

Error texts are written here, never passed on from ``requests``: its
messages quote the request's address, where a secret may stand. Every text
is scrubbed of the client's secrets all the same.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import math
import os
import re
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import ClassVar, Self
from urllib.parse import urlsplit

import requests
from attrs import frozen
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from postroom.results import Outcome
from postroom.secrets import scrub

__all__ = ["HttpClient", "HttpError", "ProblemDocument", "read_problem", "retry_after", "scrub",
           "user_agent"]


@frozen
class HttpError(Exception):
    """A call to an HTTP API that got no usable answer, worded for the admin.

    - ``outcome``: what the messages of the call should do (retry later,
      slow down, stop the account, give up).
    - ``code``: the answer's status as ``"HTTP 503"``, or ``None`` when no
      answer came.
    - ``stage`` and ``category``: where it failed, for a ``Diagnosis``
      (``tls`` and ``tls-untrusted``, ``connect`` and ``connect-failed``...).
    - ``text``: what happened, naming the host; ``hint``: what to change.
    - ``retry_after``: seconds the API asked to wait, if it said.
    - ``maybe_processed``: the request may have reached the API before things
      broke (a lost answer, a read timeout), so it may have been acted on;
      an API with idempotency keys can safely send it again.
    """

    outcome: Outcome
    code: str | None
    stage: str
    category: str
    text: str
    hint: str = ""
    retry_after: float | None = None
    maybe_processed: bool = False

    def __str__(self) -> str:
        return self.text


@functools.cache
def user_agent(distribution: str) -> str:
    """``DISTRIBUTION/VERSION`` of an installed package, so the API's logs show who called.

    Just ``DISTRIBUTION`` when the package is not installed (run from a source tree).
    """
    try:
        return f"{distribution}/{importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return distribution


def retry_after(value: str | None) -> float | None:
    """The seconds a ``Retry-After`` header asks for, or ``None``.

    ``None`` also for the HTTP-date form and for nonsense, so the engine's
    own pause applies; a negative number means no wait.
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


@frozen
class ProblemDocument:
    """The parts of an RFC 7807 error answer (``application/problem+json``)
    worth showing, as many APIs (Vonage's, BulkSMS's) write their errors;
    empty strings where the answer has none."""

    type: str = ""
    title: str = ""
    detail: str = ""

    @property
    def name(self) -> str:
        """The error's name from the end of ``type`` (``...errors#insufficient-credits``
        gives ``insufficientcredits``), else from the title."""
        tail = re.split(r"[#/]", self.type)[-1]
        return re.sub(r"[^a-z]", "", tail.lower()) or re.sub(r"[^a-z]", "", self.title.lower())

    def describe(self) -> str:
        """``Title: detail``, or whichever of them the answer gave; empty if neither.
        Scrub it of the client's secrets before showing it (``HttpClient.error``
        does)."""
        return ": ".join(part for part in (self.title.strip(), self.detail.strip()) if part)


def read_problem(body: bytes) -> ProblemDocument:
    """The problem document in an answer's body; an empty one if it is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        return ProblemDocument()
    if not isinstance(data, dict):
        return ProblemDocument()
    return ProblemDocument(*(str(data.get(key) or "") for key in ("type", "title", "detail")))


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


def _first(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...],
           ) -> BaseException | None:
    return next((e for e in _chain(exc) if isinstance(e, kind)), None)


def _why(exc: BaseException) -> str:
    """A few words on what broke, from the system's error under ``exc``.

    Only the system's own words (``Connection refused``) or a type name:
    library messages quote the request's address.
    """
    unverified = _first(exc, ssl.SSLCertVerificationError)
    if unverified is not None:
        return getattr(unverified, "verify_message", "") or "certificate verify failed"
    errors = list(_chain(exc))
    said = next((e.strerror for e in errors if isinstance(e, OSError) and e.strerror), None)
    return said or type(errors[-1]).__name__


_CERTIFI = "the CA bundle requests ships (certifi)"
_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _ca_file_problem(path: str) -> str | None:
    """Why the CA file or directory at ``path`` cannot be used, or ``None`` if it loads."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            context.load_verify_locations(cafile=path)
    except FileNotFoundError:
        return "does not exist"
    except ssl.SSLError:
        return "holds no CA certificate in PEM form"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return None


class HttpClient:
    """A session with one account's HTTP API for a batch; use it as a context manager.

    ``base_url`` is the API root that ``request`` paths are added to, and
    ``timeout`` the seconds allowed for connecting and for each read.
    ``user_agent`` goes in every request (see ``user_agent()``).
    ``ca_bundle`` is a PEM file of CAs to trust instead of the CA bundle
    requests ships (certifi); certificates are always checked. ``secrets``
    are scrubbed from every error text and hint the client makes.
    ``connections`` is how many requests may be in flight at once from
    threads sharing the client; a further one waits for a free connection.
    A failed request is never retried here: whether to send it again is the
    provider's call.

    Derive a provider's client from it. Class attributes a subclass may set:

    - ``server``: how hints name the other side (``"the gateway"``).
    - ``untrusted``: the outcome of a certificate that is not trusted;
      ``ACCOUNT_STOPPED`` by default, since only an admin can fix trust and
      retrying would use up every message's tries.
    - ``error_type``: the ``HttpError`` subclass the client raises, for a
      provider that adds fields of its own.

    ``base_url``, ``timeout``, ``host`` (``hostname[:port]``, never a login
    that ``base_url`` holds), ``session`` and ``adapter`` are there for a
    subclass's own requests; ``session.headers`` takes headers every request
    should carry.
    """

    server: ClassVar[str] = "the server"
    untrusted: ClassVar[Outcome] = Outcome.ACCOUNT_STOPPED
    error_type: ClassVar[type[HttpError]] = HttpError

    def __init__(self, base_url: str, *, timeout: float, user_agent: str,
                 ca_bundle: str | os.PathLike[str] | None = None, secrets: Iterable[str] = (),
                 connections: int = 1) -> None:
        self.base_url = base_url
        self.timeout = timeout
        # Only hostname[:port]: a user:password@ in base_url must not reach error texts.
        self.host = urlsplit(base_url).netloc.rpartition("@")[2]
        self.secrets = [s for s in secrets if s]
        session = requests.Session()
        session.proxies.update(requests.utils.get_environ_proxies(base_url))
        # An empty variable must not turn checks off, as an empty CURL_CA_BUNDLE once did.
        variable = next((name for name in _CA_VARIABLES if os.environ.get(name)), None)
        if ca_bundle:
            session.verify, self._ca_source = str(ca_bundle), "the account's ca_bundle"
        elif variable:
            session.verify, self._ca_source = os.environ[variable], variable
        else:
            session.verify, self._ca_source = True, _CERTIFI
        session.trust_env = False  # read above, once; it would also pull in ~/.netrc logins
        session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self.adapter = HTTPAdapter(pool_connections=1, pool_maxsize=connections,
                                   pool_block=True, max_retries=0)
        session.mount("https://", self.adapter)
        session.mount("http://", self.adapter)
        self.session = session

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the kept-alive connections."""
        self.session.close()

    def request(self, method: str, path: str, **kw: object) -> requests.Response:
        """``method`` ``base_url + path`` with the client's timeout; any HTTP answer.

        ``path`` may also be a whole ``https://`` address on the same server
        (one the API handed out, such as a discovered endpoint). ``kw`` goes
        to ``requests`` (``json``, ``data``, ``params``, ``auth``...). Raises
        ``error_type`` when no answer came; an error status is an answer, for
        the caller to read.
        """
        url = path if path.startswith(("https://", "http://")) else self.base_url + path
        try:
            return self.session.request(method, url, timeout=self.timeout, **kw)
        except OSError as exc:  # requests' own errors, and its plain OSError for a CA file
            raise self.network_error(exc, path) from None

    def error(self, outcome: Outcome, code: str | None, stage: str, category: str, text: str,
              hint: str = "", **kw: object) -> HttpError:
        """An ``error_type`` with ``text`` and ``hint`` scrubbed of the client's secrets."""
        return self.error_type(outcome, code, stage, category, scrub(text, self.secrets),
                               scrub(hint, self.secrets), **kw)

    def network_error(self, exc: OSError, path: str) -> HttpError:
        """What an exception from a call to ``path`` means, as an ``error_type``.

        ``exc`` is a ``requests`` exception, or the plain ``OSError`` requests
        raises when the CA file is missing: catch ``OSError`` (which both are)
        around a call that bypasses ``request``.

        Failures before the request went out (no connection, no address) are
        ``unreachable``, which pauses the account as a whole (an untrusted
        certificate: ``untrusted``; a CA file that cannot be used:
        ``account_stopped``); after it, ``transient`` with ``maybe_processed``.
        """
        host, server, timeout = self.host, self.server, f"{self.timeout:g} s"
        if _first(exc, ssl.SSLCertVerificationError) is not None:
            return self.error(self.untrusted, None, "tls", "tls-untrusted",
                              f"the certificate of {host} is not trusted: {_why(exc)}",
                              f"if {server} uses a private CA, set ca_bundle to its PEM file; "
                              "otherwise something is intercepting the connection")
        if not isinstance(exc, requests.exceptions.RequestException) or isinstance(
                exc, requests.exceptions.SSLError):
            unusable = self._ca_file_error()
            if unusable is not None:
                return unusable
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return self.error(Outcome.UNREACHABLE, None, "connect", "timeout",
                              f"no connection to {host} within {timeout}",
                              f"check the network path to {server}, or raise timeout")
        if isinstance(exc, requests.exceptions.ProxyError):
            return self.error(Outcome.UNREACHABLE, None, "connect", "connect-failed",
                              f"cannot connect to {host} through the proxy the environment "
                              f"names: {_why(exc)}",
                              "check the proxy variables postroom runs with (HTTPS_PROXY, "
                              "ALL_PROXY, NO_PROXY)")
        if _first(exc, (NewConnectionError, ConnectionRefusedError, socket.gaierror)):
            return self.error(Outcome.UNREACHABLE, None, "connect", "connect-failed",
                              f"cannot connect to {host}: {_why(exc)}",
                              f"check base_url and that this machine can reach {server}")
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                      | requests.exceptions.InvalidSchema):
            return self.error(Outcome.UNREACHABLE, None, "connect", "connect-failed",
                              f"cannot connect to {host}: base_url is not a usable address",
                              "set base_url to the https:// address of the API")
        # From here on the request may have reached the API before things broke.
        if isinstance(exc, requests.exceptions.Timeout):
            return self.error(Outcome.TRANSIENT, None, "api", "timeout",
                              f"{host} did not answer {path} within {timeout}",
                              f"{server} is slow or the network drops packets; raise timeout "
                              "if it keeps happening", maybe_processed=True)
        if isinstance(exc, requests.exceptions.SSLError):
            return self.error(Outcome.TRANSIENT, None, "tls", "tls-failed",
                              f"TLS with {host} failed: {_why(exc)}",
                              "check that base_url starts with https:// and names the API host",
                              maybe_processed=True)
        return self.error(Outcome.TRANSIENT, None, "api", "connection-lost",
                          f"the connection to {host} broke before the answer to {path} came "
                          f"({_why(exc)})",
                          "a network fault; it usually passes, and postroom retries",
                          maybe_processed=True)

    def _ca_file_error(self) -> HttpError | None:
        """An ``account_stopped`` error if the CA file in force cannot be used, else ``None``.

        Only called after a failure: loading the file costs a request nothing.
        """
        verify = self.session.verify
        path = requests.utils.DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
        problem = _ca_file_problem(path)
        if problem is None:
            return None
        source = self._ca_source
        if source == _CERTIFI:
            hint = ("reinstall certifi in postroom's environment, or set ca_bundle to a PEM "
                    "file of the CAs to trust")
        elif source in _CA_VARIABLES:
            hint = (f"point {source} at a PEM file of the CAs to trust, or unset it, in the "
                    "environment postroom runs with; an account's ca_bundle wins over it")
        else:
            hint = ("point ca_bundle at a PEM file of the CAs to trust (postroom validate "
                    "checks it), or remove it to trust " + _CERTIFI)
        named = source if source == _CERTIFI else f"named by {source}"
        return self.error(Outcome.ACCOUNT_STOPPED, None, "tls", "ca-file-unusable",
                          f"cannot check the certificate of {self.host}: the CA file {path}, "
                          f"{named}, {problem}", hint)
