"""The contract kit's fixtures shared by the providers that send over SMTP (smtp, gmail,
microsoft365): a recipient the loopback server takes, one it refuses with ``refusal``,
a port nothing listens on, and no credit to report.

A provider's test class derives from ``SmtpContract``, names its ``provider`` and
``refusal`` (the server's answer to ``REFUSED``), and gives the ``server``,
``settings`` and ``secrets`` fixtures."""

from __future__ import annotations

import pytest

from loopback.ports import refused_port
from loopback.smtp import Answer, ForAddress
from postroom.testing import ProviderContract

REFUSED = "gone@example.org"


class SmtpContract(ProviderContract):
    refusal = "550 5.1.1 no such user"

    def refused(self) -> list:
        """The fault that makes the loopback server refuse ``REFUSED``."""
        return [ForAddress("RCPT", REFUSED, Answer(self.refusal))]

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
    def expect_credits(self):
        return False
