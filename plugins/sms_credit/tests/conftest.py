"""Fixtures for the sms_credit provider's tests: a credit-keeping fake gateway over HTTPS."""

from __future__ import annotations

import pytest
import trustme
from loopback.bulksms_api import fake_gateway
from loopback.certificates import write_ca_file

import postroom_sms_credit
from postroom import Engine
from postroom.plugins import PluginRegistry

# Test modules spell these out again: ``from conftest import`` finds the repository's.
TOKEN_ID = "fake-token-id"
TOKEN_SECRET = "t0ken/secret+with&odd=chars"


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(ca, tmp_path_factory):
    return write_ca_file(ca, tmp_path_factory.mktemp("tls") / "ca.pem")


@pytest.fixture
def gateway(ca):
    """The fake gateway: 1000 credits, one credit per SMS part, one API token."""
    with fake_gateway(ca, logins={TOKEN_ID: TOKEN_SECRET}) as fake:
        yield fake


@pytest.fixture
def registry() -> PluginRegistry:
    reg = PluginRegistry(entry_points=False, environ={})
    reg.register(postroom_sms_credit.plugin, ["sms_credit"], distribution="postroom-sms-credit")
    return reg


@pytest.fixture
def settings(gateway, ca_bundle) -> dict:
    """An account's settings aimed at the fake gateway."""
    return {"provider": "sms_credit", "token_id": TOKEN_ID, "token_secret": TOKEN_SECRET,
            "sender": "Clinic", "base_url": gateway.url, "ca_bundle": str(ca_bundle),
            "timeout": 5}


@pytest.fixture
def make_engine(registry, tmp_path):
    """``make_engine(settings)``: an engine with one account, ``texts``, region GB."""

    def make(account: dict, **config: object) -> Engine:
        return Engine.from_dict({"region": "GB", "accounts": {"texts": account}, **config},
                                base_dir=tmp_path, registry=registry, environ={})

    return make


@pytest.fixture
def engine(make_engine, settings) -> Engine:
    return make_engine(settings)
