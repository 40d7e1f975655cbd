"""postroom's contract kit run against the gmail plugin: OAuth2 against Gmail on loopback."""

from __future__ import annotations

import pytest
from loopback.smtp_contract import SmtpContract


class TestGmailContract(SmtpContract):
    provider = "gmail"
    refusal = ("550-5.1.1 The email account that you tried to reach does not exist.\r\n"
               "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser x1 - gsmtp")

    @pytest.fixture
    def server(self, gmail_server):
        return gmail_server(faults=self.refused())

    @pytest.fixture
    def settings(self, server, account):
        settings = account(server)
        del settings["provider"]
        return settings

    @pytest.fixture
    def secrets(self, tokens):
        # Grows as the token endpoint issues access tokens, so those are checked too.
        return tokens.secret_values
