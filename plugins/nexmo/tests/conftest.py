"""Fixtures for the nexmo provider's tests: a fake API over HTTPS, and engines using it."""

from __future__ import annotations

import pytest
import trustme
from loopback.certificates import write_ca_file
from loopback.nexmo_api import fake_nexmo

import postroom_nexmo
from postroom import Engine
from postroom.plugins import PluginRegistry

SECRET = "s3cr3t&key=with/odd+chars"  # the test modules that need it spell it out


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(ca, tmp_path_factory):
    return write_ca_file(ca, tmp_path_factory.mktemp("tls") / "ca.pem")


@pytest.fixture
def api(ca):
    """The fake REST host; its API secret is ``SECRET``."""
    with fake_nexmo(ca, api_secret=SECRET) as fake:
        yield fake


@pytest.fixture
def registry() -> PluginRegistry:
    reg = PluginRegistry(entry_points=False, environ={})
    reg.register(postroom_nexmo.plugin, ["nexmo"], distribution="postroom-nexmo")
    return reg


@pytest.fixture
def settings(api, ca_bundle) -> dict:
    """An account's settings pointing at the fake API; a fast rate so tests do not wait."""
    return {"provider": "nexmo", "api_key": api.api_key, "api_secret": SECRET,
            "sender": "Clinic", "base_url": api.url, "ca_bundle": str(ca_bundle),
            "rate_per_second": 1000, "timeout": 5}


@pytest.fixture
def make_engine(registry, tmp_path):
    """``make_engine(settings)``: an engine with one account, ``texts``, region GB."""

    def make(account: dict) -> Engine:
        return Engine.from_dict({"region": "GB", "accounts": {"texts": account}},
                                base_dir=tmp_path, registry=registry, environ={}, strict=True)

    return make


@pytest.fixture
def engine(make_engine, settings) -> Engine:
    return make_engine(settings)
