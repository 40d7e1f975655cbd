"""postroom's contract kit run against the smtp plugin, aimed at a loopback STARTTLS server."""

from __future__ import annotations

import pytest
from loopback.ports import refused_port
from loopback.smtp import Answer, ForAddress

from postroom.testing import ProviderContract

REFUSED = "gone@example.org"


class TestSmtpContract(ProviderContract):
    provider = "smtp"

    @pytest.fixture
    def server(self, smtp_server):
        return smtp_server(security="starttls", require_starttls=True, faults=[
            ForAddress("RCPT", REFUSED, Answer("550 5.1.1 no such user"))])

    @pytest.fixture
    def settings(self, server, credentials, ca_file):
        username, password = credentials
        return {"host": server.host, "port": server.port, "username": username,
                "password": password, "sender_email": "ann@example.org",
                "tls_ca_file": str(ca_file), "timeout": 5}

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
    def secrets(self, credentials):
        return [credentials[1]]

    @pytest.fixture
    def expect_credits(self):
        return False
