"""Gmail on loopback: an SMTP server that answers logins as Gmail does, and a token endpoint.

Two real servers that check each other's work, so OAuth2 is tested end to end:

- ``running_token_endpoint(ca)`` serves Google's OAuth2 token endpoint over
  HTTPS: ``POST /token`` with ``grant_type=refresh_token`` and the client's
  id, secret and refresh token answers ``{"access_token", "expires_in",
  "scope", "token_type"}``, or ``invalid_grant`` / ``invalid_client`` errors
  shaped as Google's. It counts calls, can revoke a refresh token (which also
  voids its access tokens) and expire every access token early.
- ``running_gmail(tokens=...)`` is the loopback SMTP server with Gmail's
  logins: AUTH XOAUTH2 accepts only an unexpired access token the endpoint
  issued for that user (otherwise the 334 JSON challenge, then 535), and
  PLAIN/LOGIN accept app passwords, answering the account's own password
  with 534 5.7.9 and anything else with 535 5.7.8. ``DailyQuota`` makes it
  refuse mail with 550 5.4.5 once an account has sent its quota.

Both read time from ``clock`` (default ``time.monotonic``), so a test can
move time forward for the token endpoint and the client alike.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial

import trustme
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
from attrs import define, field, frozen
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from loopback.certificates import server_context
from loopback.smtp import Answer, Command, Fault, LoopbackSmtp, RecordingHandler, running_smtp

SCOPE = "https://mail.google.com/"

# Gmail's replies, as its servers send them (multi-line, with a help link).
BAD_CREDENTIALS = ("535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
                   "535 5.7.8  https://support.google.com/mail/?p=BadCredentials x1 - gsmtp")
APP_PASSWORD_REQUIRED = ("534-5.7.9 Application-specific password required. For more "
                         "information, go to\r\n534 5.7.9  "
                         "https://support.google.com/mail/?p=InvalidSecondFactor x1 - gsmtp")
WEB_SIGN_IN_REQUIRED = ("534-5.7.14 <https://accounts.google.com/signin/continue?x=1> Please "
                        "log in via your web browser and\r\n534-5.7.14 then try again.\r\n"
                        "534 5.7.14  Learn more at https://support.google.com/mail/answer/78754"
                        " x1 - gsmtp")
QUOTA_EXCEEDED = ("550-5.4.5 Daily user sending limit exceeded. For more information on Gmail\r\n"
                  "550-5.4.5 sending limits go to\r\n"
                  "550 5.4.5  https://support.google.com/a/answer/166852 x1 - gsmtp")
# The XOAUTH2 challenge that says "this token will not do"; the client answers an empty line.
TOKEN_REFUSED_CHALLENGE = json.dumps({"status": "400", "schemes": "Bearer", "scope": SCOPE},
                                     separators=(",", ":"))


@frozen
class Issued:
    """An access token the endpoint handed out: for whom, from which grant, until when."""

    user: str
    refresh_token: str
    expires_at: float


@define
class FakeGoogleTokens:
    """The token endpoint's state: one OAuth client, its grants, and the tokens issued.

    ``grants`` maps each refresh token to the user who granted it. ``lifetime``
    is the ``expires_in`` of new access tokens. ``calls`` counts requests;
    ``secret_values`` lists every secret it knows or issued (the client secret,
    refresh tokens, access tokens), growing as it issues, for leak checks.
    """

    client_id: str
    client_secret: str
    grants: dict[str, str]
    lifetime: int = 3599
    clock: Callable[[], float] = time.monotonic
    url: str = ""
    calls: int = 0
    secret_values: list[str] = field(factory=list)
    _issued: dict[str, Issued] = field(factory=dict)
    _revoked: set[str] = field(factory=set)
    _scripted: list[Response] = field(factory=list)
    _serial: Iterator[int] = field(factory=itertools.count)
    _lock: threading.Lock = field(factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        self.secret_values.extend([self.client_secret, *self.grants])

    @property
    def issued(self) -> list[str]:
        """Every access token handed out so far, oldest first."""
        with self._lock:
            return list(self._issued)

    def revoke(self, refresh_token: str) -> None:
        """The user withdraws the grant: the refresh token and its access tokens stop working."""
        with self._lock:
            self._revoked.add(refresh_token)

    def expire_all(self) -> None:
        """Every access token issued so far stops working now (Google may end them early)."""
        with self._lock:
            now = self.clock()
            self._issued = {token: Issued(i.user, i.refresh_token, now)
                            for token, i in self._issued.items()}

    def answer_next(self, status: int, body: object) -> None:
        """Answer the next request with this JSON body instead."""
        self._scripted.append(json_response(body, status))

    def accepts(self, user: str, token: str) -> bool:
        """Whether ``token`` is a live access token issued for ``user`` (what Gmail checks)."""
        with self._lock:
            issued = self._issued.get(token)
            return (issued is not None and issued.user == user
                    and issued.refresh_token not in self._revoked
                    and self.clock() < issued.expires_at)

    def handle(self, request: Request) -> Response:
        """Answer one ``POST /token`` (called in the server's thread)."""
        with self._lock:
            self.calls += 1
            if self._scripted:
                return self._scripted.pop(0)
            form = request.form
            if form.get("grant_type") != "refresh_token":
                return _error(400, "unsupported_grant_type",
                              f"Invalid grant_type: {form.get('grant_type', '')}")
            if (form.get("client_id"), form.get("client_secret")) != (
                    self.client_id, self.client_secret):
                return _error(401, "invalid_client", "Unauthorized")
            refresh_token = form.get("refresh_token", "")
            if refresh_token not in self.grants or refresh_token in self._revoked:
                return _error(400, "invalid_grant", "Token has been expired or revoked.")
            token = f"ya29.loopback-{next(self._serial)}-{refresh_token[-6:]}"
            self._issued[token] = Issued(self.grants[refresh_token], refresh_token,
                                         self.clock() + self.lifetime)
            self.secret_values.append(token)
            return json_response({"access_token": token, "expires_in": self.lifetime,
                                  "scope": SCOPE, "token_type": "Bearer"})


def json_response(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def _error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


class QuickHTTPServer(HTTPServer):
    """pytest-httpserver's server, stopping in a twentieth of a second rather than half."""

    def thread_target(self) -> None:
        self.server.serve_forever(poll_interval=0.05)


@contextmanager
def running_token_endpoint(ca: trustme.CA, **options: object) -> Iterator[FakeGoogleTokens]:
    """Run a ``FakeGoogleTokens`` over HTTPS on 127.0.0.1; its ``url`` is the token URL."""
    fake = FakeGoogleTokens(**options)
    server = QuickHTTPServer(host="127.0.0.1", port=0, ssl_context=server_context(ca))
    server.no_handler_status_code = 404  # as Google answers a wrong path
    server.expect_request("/token", method="POST").respond_with_handler(fake.handle)
    server.start()
    fake.url = server.url_for("/token")
    try:
        yield fake
    finally:
        server.stop()
    if server.handler_errors:
        raise AssertionError(f"the token endpoint failed: {server.handler_errors!r}")


async def read_xoauth2(server, args: list[str]) -> dict[str, str] | None:
    """The fields of an AUTH XOAUTH2 answer (initial or after an empty challenge); None
    when there is none to read (the client aborted, or sent no base64: answered 501)."""
    if len(args) == 1:
        blob = await server.challenge_auth("")
        return None if blob is MISSING else xoauth2_fields(blob)
    try:
        return xoauth2_fields(base64.b64decode(args[1], validate=True))
    except binascii.Error:
        await server.push("501 5.5.2 Cannot Decode response")
        return None


def xoauth2_fields(blob: bytes) -> dict[str, str]:
    """``user=...^Aauth=Bearer ...^A^A`` as a dict (empty when malformed)."""
    try:
        text = blob.decode()
    except UnicodeDecodeError:
        return {}
    return dict(part.split("=", 1) for part in text.split("\x01") if "=" in part)


class GmailHandler(RecordingHandler):
    """A ``RecordingHandler`` that answers logins as Gmail does.

    ``users`` map addresses to their app passwords; ``account_passwords`` to
    their Google passwords, which Gmail refuses for SMTP (534 5.7.9).
    XOAUTH2 logins are checked against ``tokens``. ``oauth_logins`` and
    ``refused_tokens`` count the XOAUTH2 logins that worked and did not.
    """

    def __init__(self, users: Mapping[str, str] | None, rejection: str,
                 faults: Iterable[Fault], *, tokens: FakeGoogleTokens | None = None,
                 account_passwords: Mapping[str, str] | None = None) -> None:
        super().__init__(users, rejection, faults)
        self.tokens = tokens
        self.account_passwords = dict(account_passwords or {})
        self.oauth_logins: list[str] = []
        self.refused_tokens = 0

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        result = super().authenticate(server, session, envelope, mechanism, auth_data)
        if not result.success and isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.account_passwords.get(login) == password:
                return AuthResult(success=False, handled=False, message=APP_PASSWORD_REQUIRED)
        return result

    async def auth_XOAUTH2(self, server, args: list[str]) -> AuthResult:
        """aiosmtpd calls ``auth_<MECHANISM>`` for ``AUTH <MECHANISM>``."""
        fields = await read_xoauth2(server, args)
        if fields is None:
            return AuthResult(success=False, handled=True)
        user, bearer = fields.get("user", ""), fields.get("auth", "")
        token = bearer.removeprefix("Bearer ")
        if self.tokens is not None and bearer.startswith("Bearer ") and self.tokens.accepts(
                user, token):
            self.oauth_logins.append(user)
            return AuthResult(success=True, auth_data=user)
        self.refused_tokens += 1
        # Gmail answers a token it will not take with a JSON challenge; after the
        # client's empty reply comes the 535.
        answer = await server.challenge_auth(TOKEN_REFUSED_CHALLENGE)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)  # the client aborted; aiosmtpd said 501
        if answer:
            return AuthResult(success=False, handled=False,
                              message="501 5.5.2 the answer to the challenge must be empty")
        return AuthResult(success=False, handled=False, message=self.rejection)


@define
class DailyQuota:
    """Gmail's daily limit: 550 5.4.5 after ``limit`` messages, at ``MAIL`` or ``DATA``."""

    limit: int
    command: str = "MAIL"
    _seen: int = 0

    def __call__(self, command: Command) -> Answer | None:
        if command.name != self.command:
            return None
        self._seen += 1
        return Answer(QUOTA_EXCEEDED) if self._seen > self.limit else None


@contextmanager
def running_gmail(*, tokens: FakeGoogleTokens | None = None,
                  account_passwords: Mapping[str, str] | None = None,
                  **options: object) -> Iterator[LoopbackSmtp]:
    """Run a loopback SMTP server with Gmail's logins (``running_smtp`` takes ``options``)."""
    options.setdefault("rejection", BAD_CREDENTIALS)
    factory = partial(GmailHandler, tokens=tokens, account_passwords=account_passwords)
    with running_smtp(handler_factory=factory, **options) as server:
        yield server
