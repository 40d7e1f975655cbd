"""The contract kit run against the sms_credit plugin, aimed at the fake gateway over HTTPS."""

from __future__ import annotations

import pytest
from loopback.ports import refused_port

from postroom.testing import ProviderContract

TOKEN_SECRET = "t0ken/secret+with&odd=chars"  # the fake gateway's token secret, as conftest sets


class TestSmsCreditContract(ProviderContract):
    provider = "sms_credit"

    @pytest.fixture
    def settings(self, settings):
        return {key: value for key, value in settings.items() if key != "provider"}

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
        return [TOKEN_SECRET]

    @pytest.fixture
    def expect_credits(self):
        return True
