"""postroom's contract kit run against the microsoft365 plugin: app-only OAuth2 on loopback."""

from __future__ import annotations

import pytest
from loopback.smtp_contract import REFUSED, SmtpContract


class TestMicrosoft365Contract(SmtpContract):
    provider = "microsoft365"
    refusal = (f"550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {REFUSED} not "
               "found by SMTP address lookup")

    @pytest.fixture
    def server(self, exchange_server):
        return exchange_server(faults=self.refused())

    @pytest.fixture
    def settings(self, server, account):
        settings = account(server)
        del settings["provider"]
        return settings

    @pytest.fixture
    def secrets(self, entra):
        # Grows as the platform issues access tokens, so those are checked too.
        return entra.secret_values


class TestDelegatedMicrosoft365Contract(TestMicrosoft365Contract):
    """The same contract for a mailbox that granted the app a refresh token."""

    @pytest.fixture
    def settings(self, server, account):
        settings = account(server, login="delegated")
        del settings["provider"]
        return settings
