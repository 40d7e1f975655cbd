"""postroom's contract kit run against the gmail plugin: OAuth2 against Gmail on loopback."""

from __future__ import annotations

import pytest
from loopback.ports import refused_port
from loopback.smtp import Answer, ForAddress

from postroom.testing import ProviderContract

REFUSED = "gone@example.org"
NO_SUCH_USER = ("550-5.1.1 The email account that you tried to reach does not exist.\r\n"
                "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser x1 - gsmtp")


class TestGmailContract(ProviderContract):
    provider = "gmail"

    @pytest.fixture
    def server(self, gmail_server):
        return gmail_server(faults=[ForAddress("RCPT", REFUSED, Answer(NO_SUCH_USER))])

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
    def secrets(self, tokens):
        # Grows as the token endpoint issues access tokens, so those are checked too.
        return tokens.secret_values

    @pytest.fixture
    def expect_credits(self):
        return False
