"""What an HTTP error answer of the gateway means for the messages it refused.

Errors come as problem documents (RFC 7807 style: ``type``, ``title``,
``status``, ``detail``; read by ``postroom.http.read_problem``); the ``type``
ends in a fragment naming the error (``...errors#insufficient-credits``).
Each answer becomes a ``GatewayError`` whose outcome decides whether the
messages wait, retry, stop the account or fail for good.
"""

from __future__ import annotations

from postroom.http import ProblemDocument
from postroom.results import Outcome
from postroom_sms_credit.errors import GatewayError

TOP_UP_HINT = ("top up the account's credits at the gateway (or turn on its automatic top-up); "
               "the messages stay queued and go once the account has credit")


def refusal(status: int, problem: ProblemDocument, host: str, path: str,
            retry_after: float | None) -> GatewayError:
    """The ``GatewayError`` for an HTTP error ``status`` with its problem document."""
    code = f"HTTP {status}"
    said = problem.describe() or f"HTTP {status}"
    stopped = Outcome.ACCOUNT_STOPPED
    if status == 400:
        return GatewayError(Outcome.PERMANENT, code, "send", "bad-request",
                            f"the gateway refused the message: {said}",
                            "correct the message or number the gateway names", splittable=True,
                            batch_wide=False)
    if status == 401:
        return GatewayError(stopped, code, "auth", "auth-failed",
                            f"{host} refused the credentials ({said})",
                            "check token_id and token_secret (or username and password) against "
                            "the API tokens in the gateway's settings")
    if status == 403 and problem.name == "insufficientcredits":
        return GatewayError(stopped, code, "send", "insufficient-credits",
                            "out of credits: the gateway refused the messages because the account "
                            "cannot pay for them", TOP_UP_HINT)
    if status == 403:
        return GatewayError(stopped, code, "send", "forbidden",
                            f"the gateway refused to send for this account ({said})",
                            "check the account's status and limits in the gateway's web app")
    if status == 404:
        return GatewayError(stopped, code, "api", "not-found",
                            f"{host} has no {path} (HTTP 404)",
                            "check base_url: it is the API root, such as "
                            "https://api.bulksms.com/v1")
    if status == 429:
        return GatewayError(Outcome.THROTTLED, code, "api", "throttled",
                            f"{host} asked to slow down ({said})",
                            "send fewer messages per second: set a schedule per_second for "
                            "this account", retry_after=retry_after)
    if status >= 500:
        return GatewayError(Outcome.TRANSIENT, code, "api", "server-error",
                            f"{host} failed to answer {path}: {said}",
                            "a fault at the gateway; it usually passes, and postroom retries",
                            maybe_processed=True)
    return GatewayError(Outcome.TRANSIENT, code, "api", "http-error",
                        f"{host} answered {path} with {said}",
                        "check base_url and that the gateway speaks the BulkSMS JSON API")
