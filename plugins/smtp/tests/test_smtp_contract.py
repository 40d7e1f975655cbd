"""postroom's contract kit run against the smtp plugin, aimed at a loopback STARTTLS server."""

from __future__ import annotations

import pytest
from loopback.smtp_contract import SmtpContract


class TestSmtpContract(SmtpContract):
    provider = "smtp"

    @pytest.fixture
    def server(self, smtp_server):
        return smtp_server(security="starttls", require_starttls=True, faults=self.refused())

    @pytest.fixture
    def settings(self, server, credentials, ca_file):
        username, password = credentials
        return {"host": server.host, "port": server.port, "username": username,
                "password": password, "sender_email": "ann@example.org",
                "tls_ca_file": str(ca_file), "timeout": 5}

    @pytest.fixture
    def secrets(self, credentials):
        return [credentials[1]]
