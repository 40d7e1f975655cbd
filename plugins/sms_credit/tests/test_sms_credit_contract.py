"""The contract kit run against the sms_credit plugin, aimed at the fake gateway over HTTPS."""

from __future__ import annotations

import json

import pytest
from loopback.ports import refused_port

from postroom.testing import ProviderContract
from postroom.webhooks import WebhookRequest

TOKEN_SECRET = "t0ken/secret+with&odd=chars"  # the fake gateway's token secret, as conftest sets
WEBHOOK_SECRET = "our-webhook-secret"


def gateway_call(token: str, event: str, items: list[dict]) -> WebhookRequest:
    return WebhookRequest(method="POST", query={"token": token}, body=json.dumps(items).encode(),
                          headers={"Content-Type": "application/json",
                                   "X-BulkSMS-Event": event})


class TestSmsCreditContract(ProviderContract):
    provider = "sms_credit"

    @pytest.fixture
    def settings(self, settings):
        return {**{key: value for key, value in settings.items() if key != "provider"},
                "webhook_secret": WEBHOOK_SECRET}

    @pytest.fixture
    def recipient(self):
        return "+447700900123"

    @pytest.fixture
    def rejected_recipient(self, gateway):
        gateway.block("+447700900999")
        return "+447700900999"

    @pytest.fixture
    def unreachable_settings(self, settings):
        return {**settings, "base_url": f"https://127.0.0.1:{refused_port()}/v1", "timeout": 2}

    @pytest.fixture
    def secrets(self):
        return [TOKEN_SECRET, WEBHOOK_SECRET]

    @pytest.fixture
    def expect_credits(self):
        return True

    @pytest.fixture
    def bad_credentials_settings(self, settings):
        return {**settings, "token_secret": "not-the-secret"}

    @pytest.fixture
    def throttle(self, gateway):
        def throttle() -> float:
            gateway.answer_next(429, "too-many-requests", "Too Many Requests", times=100,
                                retry_after="7")
            return 7.0
        return throttle

    @pytest.fixture
    def server_error(self, gateway):
        return lambda: gateway.answer_next(503, times=100)

    @pytest.fixture
    def garbled_answer(self, gateway):
        return lambda: gateway.answer_next(201, times=100)  # a text body, not JSON

    @pytest.fixture
    def hold_answers(self, gateway):
        return lambda delay: setattr(gateway, "delay", delay)

    @pytest.fixture
    def invalid_settings(self, settings):
        return {**settings, "base_url": "http://api.example.org/v1"}

    @pytest.fixture
    def sends_seen(self, gateway):
        return lambda: len(gateway.submissions)

    @pytest.fixture
    def webhook_requests(self):
        report = {"id": "4023457650", "type": "SENT", "to": "+447700900123",
                  "status": {"id": "DELIVERED.null", "type": "DELIVERED"}}
        reply = {"id": "4023457999", "type": "RECEIVED", "from": "+447700900123",
                 "to": "+447700900000", "body": "STOP"}
        return [gateway_call(WEBHOOK_SECRET, "status-report", [report]),
                gateway_call(WEBHOOK_SECRET, "incoming-message", [reply])]

    @pytest.fixture
    def forged_webhook_requests(self, webhook_requests):
        return [gateway_call("a-guess", "status-report", json.loads(webhook_requests[0].body))]
