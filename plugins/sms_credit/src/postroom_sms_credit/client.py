"""The HTTPS client of the gateway: submit messages, read the profile.

A ``Gateway`` holds one session for a batch, so its POSTs share a
kept-alive connection. Credentials go in the Basic ``Authorization`` header
only. Every failure becomes a ``GatewayError`` whose text is written here or
in ``postroom.http`` (library messages quote addresses and internals) and
scrubbed of the secrets all the same, since a gateway's own error text is
quoted in it.
"""

from __future__ import annotations

import base64
from decimal import Decimal

import attrs

from postroom.http import HttpClient, read_problem, retry_after, scrub, user_agent
from postroom.results import Outcome
from postroom_sms_credit.config import SmsCreditConfig
from postroom_sms_credit.errors import GatewayError
from postroom_sms_credit.refusals import refusal

MESSAGES_PATH = "/messages"
PROFILE_PATH = "/profile"
DEDUPLICATION_PARAMETER = "deduplication-id"


def _basic(user: str, password: str) -> str:
    """The Basic ``Authorization`` value, in UTF-8 (requests would use Latin-1 and fail
    on a secret with other characters)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class Gateway(HttpClient):
    """A session with one account's gateway; use it as a context manager."""

    server = "the gateway"
    error_type = GatewayError

    def __init__(self, config: SmsCreditConfig) -> None:
        # One connection (the default): a batch posts its chunks one after another.
        super().__init__(config.base_url, timeout=config.timeout,
                         user_agent=user_agent("postroom-sms-credit"),
                         ca_bundle=config.ca_bundle, secrets=config.secrets())
        self.config = config
        self.session.headers["Authorization"] = _basic(*config.basic_auth())

    def submit(self, entries: list[dict], deduplication_id: int) -> list[dict]:
        """POST ``entries`` as one submission; the message objects the gateway made."""
        answer = self._call("POST", MESSAGES_PATH, json=entries,
                            params={DEDUPLICATION_PARAMETER: str(deduplication_id)})
        if not isinstance(answer, list) or not all(isinstance(m, dict) for m in answer):
            # The submission may have been taken: resubmitting brings the real answer.
            raise self.error(Outcome.TRANSIENT, "HTTP 201", "api", "bad-response",
                             f"{self.host} answered {MESSAGES_PATH} with something other than "
                             "a list of messages", "check that base_url is the API root",
                             maybe_processed=True)
        return answer

    def profile(self) -> dict:
        """The account's profile: ``credits.balance``, ``quota``, ``username``..."""
        answer = self._call("GET", PROFILE_PATH)
        if not isinstance(answer, dict):
            raise self.error(Outcome.TRANSIENT, "HTTP 200", "api", "bad-response",
                             f"{self.host} answered {PROFILE_PATH} with something other than "
                             "a profile", "check that base_url is the API root")
        return answer

    def _call(self, method: str, path: str, **kw: object) -> object:
        response = self.request(method, path, **kw)
        if response.status_code >= 400:
            error = refusal(response.status_code, read_problem(response.content), self.host, path,
                            retry_after(response.headers.get("Retry-After")))
            raise attrs.evolve(error, text=scrub(error.text, self.secrets))
        try:
            return response.json(parse_float=Decimal)
        except ValueError:
            return None
