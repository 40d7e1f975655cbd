"""The offline checks shared by providers that call an HTTPS API."""

from __future__ import annotations

from postroom.endpoints import https_problems


def test_plain_http_is_an_error_except_on_loopback(tmp_path):
    (outside,) = https_problems("http://api.example.org", None, "the API secret")
    assert (outside.severity, outside.field) == ("error", "base_url")
    assert "the API secret would cross the network unencrypted" in outside.message
    for host in ("localhost", "127.0.0.1", "[::1]"):
        (local,) = https_problems(f"http://{host}:8080", None, "the API secret")
        assert local.severity == "warning"
    assert https_problems("https://api.example.org", None, "x") == []


def test_a_ca_bundle_must_be_a_file(tmp_path):
    (problem,) = https_problems("https://api.example.org", tmp_path / "missing.pem", "x")
    assert (problem.severity, problem.field) == ("error", "ca_bundle")
    (tmp_path / "ca.pem").write_text("")
    assert https_problems("https://api.example.org", tmp_path / "ca.pem", "x") == []
