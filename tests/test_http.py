"""``postroom.http`` against real servers on loopback: what each network failure becomes.

The API is the fake Nexmo REST host over HTTPS with a certificate from a
throwaway CA; the other servers are plain sockets that refuse, stall, speak
no TLS or hang up. Nothing of ``requests`` is replaced.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

import pytest
import trustme
from loopback.certificates import server_context, write_ca_file
from loopback.nexmo_api import fake_nexmo
from loopback.ports import refused_port, unresponsive_port

from postroom.http import (
    HttpClient,
    HttpError,
    ProblemDocument,
    read_problem,
    retry_after,
    scrub,
    user_agent,
)
from postroom.results import Outcome

pytestmark = pytest.mark.timeout(60)

SECRET = "s3cr3t&key=with/odd+chars %"
SPELLINGS = (SECRET, quote(SECRET, safe=""), quote_plus(SECRET))
# Variables that would change which CAs are trusted or where requests go; tests set their own.
ENVIRONMENT = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
               *(name for base in ("https_proxy", "http_proxy", "all_proxy", "no_proxy")
                 for name in (base, base.upper())))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory):
    return write_ca_file(ca, tmp_path_factory.mktemp("tls") / "ca.pem")


@pytest.fixture
def api(ca):
    with fake_nexmo(ca) as fake:
        yield fake


def client(base_url: str, ca_file=None, timeout: float = 5, **kw) -> HttpClient:
    return HttpClient(base_url, timeout=timeout, user_agent="postroom-tests",
                      ca_bundle=ca_file, secrets=[SECRET], **kw)


def failure(base_url: str, path: str = "/account/get-balance", **kw) -> HttpError:
    with client(base_url, **kw) as http, pytest.raises(HttpError) as caught:
        http.request("GET", path)
    return caught.value


def assert_no_secret(error: HttpError) -> None:
    seen = " ".join([str(error), repr(error), repr(error.args), error.hint])
    for spelling in SPELLINGS:
        assert spelling not in seen


@contextmanager
def tcp_server(serve) -> Iterator[int]:
    """A one-connection server on loopback running ``serve(connection)``; its port."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)

        def run() -> None:
            with listener.accept()[0] as connection:
                serve(connection)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield listener.getsockname()[1]
        thread.join(timeout=10)


def read_request(connection: socket.socket) -> None:
    """Read until the blank line that ends a request without a body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            return
        data += chunk


# --- the session ------------------------------------------------------------------------

def test_a_trusted_api_answers_and_an_error_status_is_an_answer(api, ca_file):
    api.answer_next(503, "busy")
    with client(api.url, ca_file) as http:
        assert http.request("GET", "/account/get-balance").status_code == 503
        assert http.request("GET", "/nowhere").status_code == 404
    assert api.connections == 1  # kept alive between the two


def test_the_requests_ca_variable_serves_when_the_account_names_no_bundle(api, ca_file,
                                                                          monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    with client(api.url) as http:
        assert http.request("GET", "/nowhere").status_code == 404


def test_the_accounts_bundle_wins_over_the_requests_ca_variable(api, tmp_path, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(write_ca_file(trustme.CA(),
                                                                tmp_path / "other.pem")))
    error = failure(api.url, ca_file=write_ca_file(trustme.CA(), tmp_path / "mine.pem"))
    assert error.category == "tls-untrusted"


def test_the_proxy_is_read_from_the_environment_once(api, ca_file, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{refused_port()}")
    through_proxy = client(api.url, ca_file)
    monkeypatch.delenv("HTTPS_PROXY")
    with through_proxy as http, pytest.raises(HttpError) as caught:
        http.request("GET", "/nowhere")
    assert (caught.value.stage, caught.value.category) == ("connect", "connect-failed")
    assert "proxy" in caught.value.text and "HTTPS_PROXY" in caught.value.hint

    direct = client(api.url, ca_file)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{refused_port()}")
    with direct as http:
        assert http.request("GET", "/nowhere").status_code == 404


def test_no_proxy_is_honoured(api, ca_file, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{refused_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with client(api.url, ca_file) as http:
        assert http.request("GET", "/nowhere").status_code == 404


@pytest.mark.parametrize(("body", "name", "said"), [
    (b'{"type": "https://api.example.org/errors#insufficient-credits", "title": "Forbidden ",'
     b' "status": 403, "detail": " No credits left. "}',
     "insufficientcredits", "Forbidden: No credits left."),
    (b'{"type": "https://developer.example.com/api-errors#unauthorized", "title": "Unauthorized"}',
     "unauthorized", "Unauthorized"),
    (b'{"title": "Too Many Requests"}', "toomanyrequests", "Too Many Requests"),
    (b'{"detail": 42}', "", "42"),
    (b"<html>Bad Gateway</html>", "", ""),
    (b'["a list"]', "", ""),
    (b"", "", ""),
])
def test_an_rfc_7807_error_answer_is_read_for_its_name_and_words(body, name, said):
    problem = read_problem(body)
    assert (problem.name, problem.describe()) == (name, said)
    if not said:
        assert problem == ProblemDocument()


def test_the_user_agent_names_the_distribution_and_its_version():
    assert user_agent("postroom").startswith("postroom/0.")
    assert user_agent("postroom-not-installed") == "postroom-not-installed"


# --- what a failure becomes -------------------------------------------------------------

@pytest.mark.parametrize("trusting", ["the CA bundle requests ships", "another CA"])
def test_an_untrusted_certificate_stops_the_account(api, tmp_path, trusting):
    other = write_ca_file(trustme.CA(), tmp_path / "other.pem") if trusting != (
        "the CA bundle requests ships") else None
    error = failure(api.url, ca_file=other)
    assert (error.outcome, error.stage, error.category) == (Outcome.ACCOUNT_STOPPED, "tls",
                                                            "tls-untrusted")
    assert error.text.startswith(f"the certificate of 127.0.0.1:{api.port} is not trusted: ")
    assert "set ca_bundle to its PEM file" in error.hint
    assert not error.maybe_processed and api.balance_requests == 0


def test_a_certificate_for_another_name_is_untrusted(ca, ca_file):
    with fake_nexmo(ca, names=("rest.example.org",)) as api:
        error = failure(api.url, ca_file=ca_file)
    assert error.category == "tls-untrusted" and "mismatch" in error.text


def test_a_provider_may_choose_the_outcome_of_an_untrusted_certificate(api):
    class Lenient(HttpClient):
        server = "the gateway"
        untrusted = Outcome.TRANSIENT

    with Lenient(api.url, timeout=5, user_agent="postroom-tests") as http, pytest.raises(
            HttpError) as caught:
        http.request("GET", "/nowhere")
    assert (caught.value.outcome, caught.value.category) == (Outcome.TRANSIENT, "tls-untrusted")
    assert caught.value.hint.startswith("if the gateway uses a private CA")


# A CA file that cannot be used: only an admin can fix it, and nothing went out.

@pytest.mark.parametrize("named_by", ["ca_bundle", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_missing_ca_file_stops_the_account_and_says_who_named_it(api, tmp_path, monkeypatch,
                                                                    named_by):
    missing = tmp_path / "gone.pem"
    if named_by == "ca_bundle":
        error = failure(api.url, ca_file=missing)
    else:
        monkeypatch.setenv(named_by, str(missing))
        error = failure(api.url)
    assert (error.outcome, error.code, error.stage, error.category) == (
        Outcome.ACCOUNT_STOPPED, None, "tls", "ca-file-unusable")
    source = "the account's ca_bundle" if named_by == "ca_bundle" else named_by
    assert error.text == (f"cannot check the certificate of 127.0.0.1:{api.port}: the CA file "
                          f"{missing}, named by {source}, does not exist")
    assert error.hint.startswith(f"point {named_by} at a PEM file")
    assert not error.maybe_processed and api.balance_requests == 0


def test_a_ca_file_deleted_while_the_client_is_open_stops_the_account(api, ca_file, tmp_path):
    mine = shutil.copy(ca_file, tmp_path / "ca.pem")
    with client(api.url, mine) as http:
        assert http.request("GET", "/nowhere").status_code == 404
        mine.unlink()
        with pytest.raises(HttpError) as caught:
            http.request("GET", "/account/get-balance")
    assert (caught.value.outcome, caught.value.category) == (Outcome.ACCOUNT_STOPPED,
                                                             "ca-file-unusable")
    assert caught.value.text.endswith(f"the CA file {mine}, named by the account's ca_bundle, "
                                      "does not exist")
    assert api.balance_requests == 0


@pytest.mark.parametrize("content", ["", "not a certificate\n"])
def test_a_ca_file_without_a_certificate_stops_the_account(api, tmp_path, content):
    useless = tmp_path / "ca.pem"
    useless.write_text(content, encoding="utf-8")
    error = failure(api.url, ca_file=useless)
    assert (error.outcome, error.stage, error.category) == (Outcome.ACCOUNT_STOPPED, "tls",
                                                            "ca-file-unusable")
    assert error.text.endswith(f"the CA file {useless}, named by the account's ca_bundle, "
                               "holds no CA certificate in PEM form")
    assert "ca_bundle" in error.hint
    assert not error.maybe_processed and api.balance_requests == 0


def test_a_refused_connection_is_unreachable_and_never_reached_the_api():
    port = refused_port()
    error = failure(f"https://127.0.0.1:{port}")
    assert (error.outcome, error.stage, error.category) == (Outcome.UNREACHABLE, "connect",
                                                            "connect-failed")
    assert error.text == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert error.code is None and not error.maybe_processed


def test_no_connection_within_the_timeout_is_a_connect_timeout():
    with unresponsive_port() as port:
        error = failure(f"https://127.0.0.1:{port}", timeout=0.3)
    assert (error.outcome, error.stage, error.category) == (Outcome.UNREACHABLE, "connect",
                                                            "timeout")
    assert error.text == f"no connection to 127.0.0.1:{port} within 0.3 s"
    assert not error.maybe_processed


def test_no_answer_within_the_timeout_may_have_been_processed(api, ca_file):
    api.delay = 30  # released when the server stops
    error = failure(api.url, ca_file=ca_file, timeout=0.3)
    assert (error.outcome, error.stage, error.category) == (Outcome.TRANSIENT, "api", "timeout")
    assert error.text == f"127.0.0.1:{api.port} did not answer /account/get-balance within 0.3 s"
    assert error.maybe_processed


def test_a_connection_dropped_before_the_answer_may_have_been_processed(ca, ca_file):
    context = server_context(ca)

    def hang_up(connection: socket.socket) -> None:
        with context.wrap_socket(connection, server_side=True) as tls:
            read_request(tls)

    with tcp_server(hang_up) as port:
        error = failure(f"https://127.0.0.1:{port}", ca_file=ca_file)
    assert (error.outcome, error.stage, error.category) == (Outcome.TRANSIENT, "api",
                                                            "connection-lost")
    assert error.text.startswith(f"the connection to 127.0.0.1:{port} broke before the answer "
                                 "to /account/get-balance came")
    assert error.maybe_processed


def test_a_server_speaking_plain_http_fails_tls(ca_file):
    def plain(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with tcp_server(plain) as port:
        error = failure(f"https://127.0.0.1:{port}", ca_file=ca_file)
    assert (error.outcome, error.stage, error.category) == (Outcome.TRANSIENT, "tls",
                                                            "tls-failed")
    assert error.text.startswith(f"TLS with 127.0.0.1:{port} failed: ")
    assert "https://" in error.hint


# --- secrets ----------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_secret_in_the_path_never_reaches_the_error(api, ca_file, spelling):
    api.delay = 30
    error = failure(api.url, f"/account/get-balance?api_secret={spelling}", ca_file=ca_file,
                    timeout=0.3)
    assert error.category == "timeout"
    assert "did not answer /account/get-balance?api_secret=*** within" in error.text
    assert_no_secret(error)


def test_a_login_in_the_address_never_reaches_the_error():
    port = refused_port()
    # The password is not among the client's secrets: only leaving it out keeps it out.
    with HttpClient(f"https://u53r:{quote(SECRET, safe='')}@127.0.0.1:{port}/v1", timeout=5,
                    user_agent="postroom-tests") as http, pytest.raises(HttpError) as caught:
        http.request("GET", "/account/get-balance")
    assert http.host == f"127.0.0.1:{port}"
    assert caught.value.text == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert_no_secret(caught.value)
    assert "u53r" not in caught.value.text + caught.value.hint


def test_the_host_is_the_name_and_port_only():
    def host(base_url: str) -> str:
        with HttpClient(base_url, timeout=5, user_agent="postroom-tests") as http:
            return http.host

    assert host("https://ann:pw@[::1]:8443/v1") == "[::1]:8443"
    assert host("https://ann@sms.example.org") == "sms.example.org"
    assert host("https://sms.example.org:444/v1") == "sms.example.org:444"


def test_errors_the_provider_makes_are_scrubbed_too(api):
    with client(api.url) as http:
        error = http.error(Outcome.TRANSIENT, "HTTP 500", "api", "server-error",
                           f"the API said: bad secret {quote_plus(SECRET)}",
                           f"check that the secret is not {SECRET}")
    assert error.text == "the API said: bad secret ***"
    assert error.hint == "check that the secret is not ***"
    assert_no_secret(error)


def test_scrub_replaces_every_spelling_and_leaves_no_piece_behind():
    text = " | ".join([*SPELLINGS, "abc%", "abc%25", "abcdef", "plain"])
    assert scrub(text, [SECRET, "abc%", "abcdef", ""]) == " | ".join(["***"] * 6 + ["plain"])
    assert scrub("nothing to hide", []) == "nothing to hide"


# --- Retry-After ------------------------------------------------------------------------

def test_retry_after_from_a_real_answer(api, ca_file):
    api.answer_next(429, "slow down")
    with client(api.url, ca_file) as http:
        answer = http.request("GET", "/account/get-balance")
    assert retry_after(answer.headers.get("Retry-After")) == 2.0


@pytest.mark.parametrize(("value", "seconds"), [
    ("7", 7.0), (" 1.5 ", 1.5), ("-3", 0.0), ("0", 0.0), (None, None), ("", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", None), ("soon", None), ("nan", None), ("inf", None),
])
def test_retry_after_reads_seconds_and_nothing_else(value, seconds):
    assert retry_after(value) == seconds
