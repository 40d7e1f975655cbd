"""postroom's contract kit run against the microsoft365 plugin: app-only OAuth2 on loopback."""

from __future__ import annotations

import pytest
from loopback.ports import refused_port
from loopback.smtp import Answer, ForAddress

from postroom.testing import ProviderContract

REFUSED = "gone@example.org"
NO_SUCH_USER = ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient gone@example.org not "
                "found by SMTP address lookup")


class TestMicrosoft365Contract(ProviderContract):
    provider = "microsoft365"

    @pytest.fixture
    def server(self, exchange_server):
        return exchange_server(faults=[ForAddress("RCPT", REFUSED, Answer(NO_SUCH_USER))])

    @pytest.fixture
    def settings(self, server, account):
        settings = account(server)
        del settings["provider"]
        return settings

    @pytest.fixture
    def recipient(self):
        return "bob@example.org"

    @pytest.fixture
    def rejected_recipient(self):
        return REFUSED

    @pytest.fixture
    def unreachable_settings(self, settings):
        return {**settings, "port": refused_port()}

    @pytest.fixture
    def secrets(self, entra):
        # Grows as the platform issues access tokens, so those are checked too.
        return entra.secret_values

    @pytest.fixture
    def expect_credits(self):
        return False


class TestDelegatedMicrosoft365Contract(TestMicrosoft365Contract):
    """The same contract for a mailbox that granted the app a refresh token."""

    @pytest.fixture
    def settings(self, server, account):
        settings = account(server, login="delegated")
        del settings["provider"]
        return settings
