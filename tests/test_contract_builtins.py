"""The contract kit run against the built-in providers and the echo test plugin."""

from __future__ import annotations

import pytest

from postroom.testing import ProviderContract, leaked


class TestEmailFileContract(ProviderContract):
    provider = "email_file"

    @pytest.fixture
    def settings(self, tmp_path):
        return {"directory": str(tmp_path / "mail"), "sender": "desk@example.org"}

    @pytest.fixture
    def recipient(self):
        return "ann@example.org"

    @pytest.fixture
    def unreachable_settings(self, tmp_path):
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the folder should be")
        return {"directory": str(blocker / "mail")}

    @pytest.fixture
    def expect_credits(self):
        return False


class TestSmsFileContract(ProviderContract):
    provider = "sms_file"

    @pytest.fixture
    def settings(self, tmp_path):
        return {"path": str(tmp_path / "sms.jsonl")}

    @pytest.fixture
    def recipient(self):
        return "+447700900123"

    @pytest.fixture
    def unreachable_settings(self, tmp_path):
        blocker = tmp_path / "blocker"
        blocker.write_text("")
        return {"path": str(blocker / "sms.jsonl")}


class TestEchoContract(ProviderContract):
    """The kit on a plugin found through an entry point, with a secret and credits."""

    provider = "echo"

    @pytest.fixture(autouse=True)
    def _installed(self, installed):
        installed("postroom-echo", {"echo": "postroom_echo"})

    @pytest.fixture
    def settings(self):
        return {"host": "echo.example.org", "sender": "desk@example.org",
                "api_secret": "right"}

    @pytest.fixture
    def recipient(self):
        return "ann@example.org"

    @pytest.fixture
    def rejected_recipient(self):
        return "permanent@example.org"

    @pytest.fixture
    def secrets(self):
        return ["right"]

    @pytest.fixture
    def expect_credits(self):
        return True


def test_leaked_finds_a_secret_anywhere_and_ignores_empty_ones():
    assert leaked(["s3cret", ""], ["nothing here", "x s3cret y"]) == ["s3cret"]
    assert leaked(["s3cret"], ["nothing here"]) == []
