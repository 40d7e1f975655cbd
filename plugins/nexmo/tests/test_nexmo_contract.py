"""The contract kit run against the nexmo plugin, aimed at the fake API over HTTPS."""

from __future__ import annotations

import socket
from urllib.parse import urlencode

import pytest

from postroom.testing import ProviderContract
from postroom.webhooks import WebhookRequest
from postroom_nexmo.signing import sign

SECRET = "s3cr3t&key=with/odd+chars"  # the fake API's secret, as conftest sets it
SIGNATURE = "sign/with&this=secret"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def form_call(params: dict) -> WebhookRequest:
    return WebhookRequest(method="POST", body=urlencode(params).encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})


class TestNexmoContract(ProviderContract):
    provider = "nexmo"

    @pytest.fixture
    def settings(self, settings, api):
        api.signature_secret, api.signature_method = SIGNATURE, "sha256"
        return {**{key: value for key, value in settings.items() if key != "provider"},
                "signature_secret": SIGNATURE, "signature_method": "sha256"}

    @pytest.fixture
    def recipient(self):
        return "+447700900123"

    @pytest.fixture
    def rejected_recipient(self, api):
        api.reject("447700900999", "7")  # number barred
        return "+447700900999"

    @pytest.fixture
    def unreachable_settings(self, settings):
        return {**settings, "base_url": f"https://127.0.0.1:{closed_port()}", "timeout": 2}

    @pytest.fixture
    def secrets(self):
        return [SECRET, SIGNATURE]

    @pytest.fixture
    def expect_credits(self):
        return True

    @pytest.fixture
    def bad_credentials_settings(self, settings):
        return {**settings, "api_secret": "not-the-secret", "signature_secret": "not-it"}

    @pytest.fixture
    def throttle(self, api):
        def throttle() -> float:
            api.answer_next(429, times=100)  # with Retry-After: 2
            return 2.0
        return throttle

    @pytest.fixture
    def server_error(self, api):
        return lambda: api.answer_next(503, times=100)

    @pytest.fixture
    def garbled_answer(self, api):
        return lambda: api.answer_next(200, "<html>maintenance</html>", "text/html", times=100)

    @pytest.fixture
    def hold_answers(self, api):
        return lambda delay: setattr(api, "delay", delay)

    @pytest.fixture
    def invalid_settings(self, settings):
        return {**settings, "base_url": "http://rest.example.org"}

    @pytest.fixture
    def sends_seen(self, api):
        return lambda: len(api.sms)

    @pytest.fixture
    def webhook_requests(self, api):
        receipt = {"messageId": "0C000000217B7F02", "status": "delivered", "err-code": "0",
                   "msisdn": "447700900123", "to": "Clinic", "api-key": api.api_key,
                   "client-ref": "5f0c1e4a9b7d4c2e8a1b3c5d7e9f0a1b"}
        reply = {"msisdn": "447700900123", "to": "447700900000", "messageId": "0A0000001",
                 "text": "STOP", "type": "text", "api-key": api.api_key}
        return [form_call(sign(receipt, SIGNATURE, "sha256")),
                form_call(sign(reply, SIGNATURE, "sha256"))]

    @pytest.fixture
    def forged_webhook_requests(self, api, webhook_requests):
        forged = {**webhook_requests[0].form(), "status": "failed"}
        guessed = sign(webhook_requests[1].form(), "a-guess", "sha256")
        return [form_call(forged), form_call(guessed)]
