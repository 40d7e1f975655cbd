"""The contract kit run against the nexmo plugin, aimed at the fake API over HTTPS."""

from __future__ import annotations

import socket

import pytest

from postroom.testing import ProviderContract

SECRET = "s3cr3t&key=with/odd+chars"  # the fake API's secret, as conftest sets it


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestNexmoContract(ProviderContract):
    provider = "nexmo"

    @pytest.fixture
    def settings(self, settings):
        return {key: value for key, value in settings.items() if key != "provider"}

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
        return [SECRET]

    @pytest.fixture
    def expect_credits(self):
        return True
