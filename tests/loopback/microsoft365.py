"""Microsoft 365 on loopback: the identity platform's token endpoint, and Exchange Online's SMTP.

Two real servers that check each other's work, so OAuth2 is tested end to end:

- ``running_identity_platform(ca)`` serves the Microsoft identity platform
  (Entra ID) over HTTPS as MSAL meets it: ``GET /{tenant}/v2.0/.well-known/
  openid-configuration`` (OpenID discovery; an unknown tenant gets
  AADSTS90002) and ``POST /{tenant}/oauth2/v2.0/token`` for
  ``client_credentials`` (app-only, scope ``https://outlook.office365.com/
  .default``) and ``refresh_token`` (a delegated mailbox, scope ``.../
  SMTP.Send``). Refusals carry ``error``, ``error_description`` (starting
  ``AADSTSnnnn:``) and ``error_codes`` as Entra's do: a wrong secret
  (7000215), an expired one (7000222), an app the tenant has not consented
  to (65001), a revoked refresh token (70008), an unknown app (700016).
- ``running_exchange(identity=...)`` is the loopback SMTP server with
  Exchange Online's logins: STARTTLS, then ``AUTH LOGIN XOAUTH2``. A token
  passes only when the platform issued it and it is still good: a delegated
  token for that very mailbox, an app-only token for a mailbox the app's
  service principal was given (``grant_mailbox``). Otherwise ``535 5.7.3``.
  SMTP AUTH can be turned off for the tenant or one mailbox (``535
  5.7.139``), a mailbox can lack a licence, and ``RecipientRateLimit``
  refuses mail with ``550 5.1.90`` once a mailbox reached its daily limit.

Both read time from ``clock`` (default ``time.monotonic``).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import trustme
from aiosmtpd.smtp import AuthResult
from attrs import define, field, frozen
from werkzeug import Request, Response

from loopback.certificates import server_context
from loopback.gmail import QuickHTTPServer, json_response, read_xoauth2
from loopback.smtp import Answer, Command, LoopbackSmtp, RecordingHandler, running_smtp

APP_SCOPE = "https://outlook.office365.com/.default"
DELEGATED_SCOPE = "https://outlook.office.com/SMTP.Send"

# Exchange Online's replies, as its servers send them (with a server id in brackets).
_SERVER_ID = "[AM0PR02CA0134.eurprd02.prod.outlook.com 2026-03-04T09:30:00.000Z 08DCA18218166FB4]"
TOKEN_REFUSED = f"535 5.7.3 Authentication unsuccessful {_SERVER_ID}"
SMTP_AUTH_OFF_TENANT = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                        "disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for "
                        f"more information. {_SERVER_ID}")
SMTP_AUTH_OFF_MAILBOX = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                         "disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for "
                         f"more information. {_SERVER_ID}")
NOT_LICENSED = ("535 5.7.139 Authentication unsuccessful, the user does not have a valid "
                f"license for Exchange Online. {_SERVER_ID}")
DAILY_LIMIT = ("550 5.1.90 Your message can't be sent because you've reached your daily limit "
               f"for message recipients. {_SERVER_ID}")
SEND_AS_DENIED = ("554 5.2.252 SendAsDenied; ann@contoso.example not allowed to send as "
                  f"other@contoso.example; STOREDRV.Submission.Exception:SendAsDeniedException."
                  f"MapiExceptionSendAsDenied {_SERVER_ID}")


@frozen
class Issued:
    """An access token the platform handed out: to which app, for whom, until when.

    ``user`` is the mailbox's address for a delegated token, None for app-only.
    """

    client_id: str
    user: str | None
    refresh_token: str | None
    expires_at: float


@define
class FakeEntra:
    """The identity platform's state: one tenant, one app registration, its grants.

    ``tenant_id`` (a GUID) and ``domains`` name the tenant. The app is
    ``client_id`` with ``client_secret``; ``secret_expired`` makes Entra say
    the secret expired; ``consented`` False makes it refuse every token with
    AADSTS65001. ``grants`` maps delegated refresh tokens to the mailbox
    whose user granted them. ``lifetime`` is ``expires_in`` of new tokens.
    ``calls`` counts token requests, ``discoveries`` discovery requests;
    ``secret_values`` lists every secret it knows or issued, for leak checks.
    """

    client_id: str
    client_secret: str
    grants: dict[str, str] = field(factory=dict)
    tenant_id: str = field(factory=lambda: str(uuid.uuid4()))
    domains: tuple[str, ...] = ("contoso.onmicrosoft.com",)
    lifetime: int = 3599
    secret_expired: bool = False
    consented: bool = True
    clock: Callable[[], float] = time.monotonic
    url: str = ""
    calls: int = 0
    discoveries: int = 0
    secret_values: list[str] = field(factory=list)
    _issued: dict[str, Issued] = field(factory=dict)
    _revoked: set[str] = field(factory=set)
    _scripted: list[Response] = field(factory=list)
    _serial: Iterator[int] = field(factory=itertools.count)
    _lock: threading.Lock = field(factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        self.secret_values.extend([self.client_secret, *self.grants])

    def revoke(self, refresh_token: str) -> None:
        """The user's sessions are revoked: the refresh token and its access tokens stop."""
        with self._lock:
            self._revoked.add(refresh_token)

    def expire_all(self) -> None:
        """Every access token issued so far stops working now."""
        with self._lock:
            now = self.clock()
            self._issued = {token: Issued(i.client_id, i.user, i.refresh_token, now)
                            for token, i in self._issued.items()}

    def answer_next(self, status: int, body: object) -> None:
        """Answer the next token request with this JSON body instead."""
        self._scripted.append(json_response(body, status))

    def issued_to(self, token: str) -> Issued | None:
        """What ``token`` is, if it is a live access token of this platform."""
        with self._lock:
            issued = self._issued.get(token)
            if issued is None or issued.refresh_token in self._revoked or (
                    self.clock() >= issued.expires_at):
                return None
            return issued

    def _tenant(self, request: Request) -> str | None:
        name = request.path.split("/")[1]
        return name if name in (self.tenant_id, *self.domains) else None

    def discovery(self, request: Request) -> Response:
        """``GET /{tenant}/v2.0/.well-known/openid-configuration``."""
        with self._lock:
            self.discoveries += 1
        tenant = request.path.split("/")[1]
        if self._tenant(request) is None:
            return _aadsts(400, "invalid_tenant", 90002,
                           f"Tenant '{tenant}' not found. Check to make sure you have the "
                           "correct tenant ID and are signing into the correct cloud.")
        base = self.url.rstrip("/")
        return json_response({
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
            "issuer": f"{base}/{self.tenant_id}/v2.0",
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
        })

    def token(self, request: Request) -> Response:
        """``POST /{tenant}/oauth2/v2.0/token`` (called in the server's thread)."""
        with self._lock:
            self.calls += 1
            if self._scripted:
                return self._scripted.pop(0)
            form = request.form
            if self._tenant(request) is None:
                return _aadsts(400, "invalid_request", 90002, "Tenant not found.")
            if form.get("client_id") != self.client_id:
                return _aadsts(400, "unauthorized_client", 700016,
                               f"Application with identifier '{form.get('client_id')}' was "
                               f"not found in the directory '{self.domains[0]}'.")
            grant = form.get("grant_type")
            secret = form.get("client_secret")
            if secret is not None or grant == "client_credentials":
                if secret != self.client_secret:
                    return _aadsts(401, "invalid_client", 7000215,
                                   "Invalid client secret provided. Ensure the secret being "
                                   "sent in the request is the client secret value, not the "
                                   "client secret ID, for a secret added to app "
                                   f"'{self.client_id}'.")
                if self.secret_expired:
                    return _aadsts(401, "invalid_client", 7000222,
                                   "The provided client secret keys for app "
                                   f"'{self.client_id}' are expired.")
            if not self.consented:
                return _aadsts(400, "invalid_grant", 65001,
                               "The user or administrator has not consented to use the "
                               f"application with ID '{self.client_id}'. Send an interactive "
                               "authorization request for this user and resource.")
            scopes = set(form.get("scope", "").split())
            if grant == "client_credentials":
                if scopes != {APP_SCOPE}:
                    return _aadsts(400, "invalid_scope", 1002012,
                                   f"The provided value for scope {form.get('scope')} is not "
                                   "valid. Client credential flows must have a scope value "
                                   "with /.default suffixed to the resource identifier.")
                return self._issue(None, None)
            if grant == "refresh_token":
                refresh_token = form.get("refresh_token", "")
                if refresh_token not in self.grants or refresh_token in self._revoked:
                    return _aadsts(400, "invalid_grant", 70008,
                                   "The provided authorization code or refresh token has "
                                   "expired due to inactivity. Send a new interactive "
                                   "authorization request for this user and resource.")
                if DELEGATED_SCOPE not in scopes:
                    return _aadsts(400, "invalid_scope", 70011,
                                   "The provided value for the input parameter 'scope' is "
                                   "not valid.")
                return self._issue(self.grants[refresh_token], refresh_token)
            return _aadsts(400, "unsupported_grant_type", 70003,
                           f"The app requested an unsupported grant type '{grant}'.")

    def _issue(self, user: str | None, refresh_token: str | None) -> Response:
        token = f"eyJ0eXAiOiJKV1Qi.loopback-{next(self._serial)}-{uuid.uuid4().hex[:12]}"
        self._issued[token] = Issued(self.client_id, user, refresh_token,
                                     self.clock() + self.lifetime)
        self.secret_values.append(token)
        body = {"token_type": "Bearer", "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime, "access_token": token}
        if user is not None:
            body["scope"] = DELEGATED_SCOPE
        return json_response(body)


def _aadsts(status: int, error: str, code: int, description: str) -> Response:
    trace = uuid.uuid4()
    return json_response({
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: "
                             f"{uuid.uuid4()} Timestamp: 2026-03-04 09:30:00Z",
        "error_codes": [code], "timestamp": "2026-03-04 09:30:00Z", "trace_id": str(trace),
        "correlation_id": str(uuid.uuid4()),
        "error_uri": f"https://login.microsoftonline.com/error?code={code}"}, status)


@contextmanager
def running_identity_platform(ca: trustme.CA, **options: object) -> Iterator[FakeEntra]:
    """Run a ``FakeEntra`` over HTTPS on 127.0.0.1; its ``url`` is the authority host."""
    fake = FakeEntra(**options)
    server = QuickHTTPServer(host="127.0.0.1", port=0, ssl_context=server_context(ca))
    server.no_handler_status_code = 404
    for tenant in (fake.tenant_id, *fake.domains, "unknown.example"):
        server.expect_request(f"/{tenant}/v2.0/.well-known/openid-configuration",
                              method="GET").respond_with_handler(fake.discovery)
        server.expect_request(f"/{tenant}/oauth2/v2.0/token",
                              method="POST").respond_with_handler(fake.token)
    server.start()
    fake.url = server.url_for("/").rstrip("/")
    try:
        yield fake
    finally:
        server.stop()
    if server.handler_errors:
        raise AssertionError(f"the identity platform failed: {server.handler_errors!r}")


class ExchangeHandler(RecordingHandler):
    """A ``RecordingHandler`` that answers XOAUTH2 logins as Exchange Online does.

    ``identity`` checks the tokens. ``app_mailboxes`` are the mailboxes the
    app's service principal may use with app-only tokens (Add-MailboxPermission).
    ``smtp_auth_off`` is ``"tenant"``, a set of mailboxes, or empty;
    ``unlicensed`` the mailboxes without an Exchange Online licence.
    ``oauth_logins`` and ``refused_tokens`` count the logins that worked and did not.
    """

    def __init__(self, users, rejection, faults, *, identity: FakeEntra) -> None:
        super().__init__(users, rejection, faults)
        self.identity = identity
        self.app_mailboxes: set[str] = set()
        self.smtp_auth_off: str | set[str] = set()
        self.unlicensed: set[str] = set()
        self.oauth_logins: list[str] = []
        self.refused_tokens = 0

    def grant_mailbox(self, address: str) -> None:
        """Give the app's service principal access to ``address`` (app-only sending)."""
        self.app_mailboxes.add(address)

    def _refusal(self, user: str, token: str) -> str | None:
        if self.smtp_auth_off == "tenant":
            return SMTP_AUTH_OFF_TENANT
        if user in self.smtp_auth_off:
            return SMTP_AUTH_OFF_MAILBOX
        issued = self.identity.issued_to(token)
        if issued is None:
            return TOKEN_REFUSED
        if issued.user is None and user not in self.app_mailboxes:
            return TOKEN_REFUSED  # the service principal has no access to this mailbox
        if issued.user is not None and issued.user != user:
            return TOKEN_REFUSED
        if user in self.unlicensed:
            return NOT_LICENSED
        return None

    async def auth_XOAUTH2(self, server, args: list[str]) -> AuthResult:
        """aiosmtpd calls ``auth_<MECHANISM>`` for ``AUTH <MECHANISM>``."""
        fields = await read_xoauth2(server, args)
        if fields is None:
            return AuthResult(success=False, handled=True)
        user, bearer = fields.get("user", ""), fields.get("auth", "")
        refusal = self._refusal(user, bearer.removeprefix("Bearer ")) if bearer.startswith(
            "Bearer ") else TOKEN_REFUSED
        if refusal is None:
            self.oauth_logins.append(user)
            return AuthResult(success=True, auth_data=user)
        self.refused_tokens += 1
        # Exchange answers a refused token at once, with no challenge first.
        return AuthResult(success=False, handled=False, message=refusal)


@define
class RecipientRateLimit:
    """Exchange's daily recipient limit: 550 5.1.90 at MAIL after ``limit`` recipients."""

    limit: int
    _seen: int = 0

    def __call__(self, command: Command) -> Answer | None:
        if command.name == "RCPT":
            self._seen += 1
        if command.name == "MAIL" and self._seen >= self.limit:
            return Answer(DAILY_LIMIT)
        return None


@contextmanager
def running_exchange(*, identity: FakeEntra, **options: object) -> Iterator[LoopbackSmtp]:
    """Run a loopback SMTP server with Exchange Online's logins (STARTTLS required).

    ``running_smtp`` takes ``options``; ``tls_context`` is needed.
    """
    options.setdefault("security", "starttls")
    options.setdefault("require_starttls", True)
    options.setdefault("rejection", TOKEN_REFUSED)
    factory = partial(ExchangeHandler, identity=identity)
    with running_smtp(handler_factory=factory, **options) as server:
        yield server
