"""Delivery receipts: parsing, signature checks, the deprecated receipt apps on a real server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests

from postroom import Secret
from postroom_nexmo import (
    BadSignature,
    ReceiptError,
    engine_receipt_app,
    parse_receipt,
    receipt_app,
)
from postroom_nexmo.signing import sign

# Shaped as the provider's documentation shows a receipt.
RECEIPT = {
    "err-code": "0",
    "message-timestamp": "2018-10-25 12:10:29",
    "messageId": "0B00000127FDBC63",
    "msisdn": "447700900000",
    "network-code": "23410",
    "price": "0.03330000",
    "scts": "1810251310",
    "status": "delivered",
    "to": "Acme Inc",
    "api-key": "abcd1234",
    "client-ref": "5f0c1e4a9b7d4c2e8a1b3c5d7e9f0a1b",
}
SECRET = Secret("receipt-secret")


def signed(params: dict, method: str = "sha256") -> dict:
    return sign({**params, "nonce": "a1b2c3"}, SECRET.reveal(), method, now=1540469429)


def test_a_receipt_is_read_field_by_field():
    receipt = parse_receipt(RECEIPT)
    assert receipt.provider_id == "0B00000127FDBC63"
    assert receipt.client_ref == "5f0c1e4a9b7d4c2e8a1b3c5d7e9f0a1b"
    assert (receipt.status, receipt.error_code) == ("delivered", "0")
    assert receipt.delivered and receipt.final
    assert (receipt.recipient, receipt.sender, receipt.network) == ("+447700900000", "Acme Inc",
                                                                    "23410")
    assert receipt.price == Decimal("0.0333")
    assert receipt.carrier_time == datetime(2018, 10, 25, 13, 10, tzinfo=UTC)
    assert receipt.sent_at == datetime(2018, 10, 25, 12, 10, 29, tzinfo=UTC)


@pytest.mark.parametrize(("status", "final"), [("accepted", False), ("buffered", False),
                                               ("unknown", False), ("expired", True),
                                               ("failed", True), ("rejected", True)])
def test_states_on_the_way_and_final(status, final):
    receipt = parse_receipt({**RECEIPT, "status": status, "err-code": "1"})
    assert (receipt.final, receipt.delivered) == (final, False)


def test_a_receipt_without_id_or_status_is_refused():
    with pytest.raises(ReceiptError, match="messageId and status missing"):
        parse_receipt({"msisdn": "447700900000"})


@pytest.mark.parametrize("method", ["md5hash", "md5", "sha1", "sha256", "sha512"])
def test_a_signed_receipt_is_checked(method):
    params = signed(RECEIPT, method)
    assert parse_receipt(params, SECRET, method).delivered
    with pytest.raises(BadSignature, match="does not match"):
        parse_receipt({**params, "status": "failed"}, SECRET, method)


def test_an_unsigned_receipt_is_refused_when_a_secret_is_set():
    with pytest.raises(BadSignature, match="not signed"):
        parse_receipt(RECEIPT, SECRET, "sha256")


def test_the_secret_never_shows_in_the_errors():
    with pytest.raises(BadSignature) as caught:
        parse_receipt({**signed(RECEIPT), "sig": "0" * 64}, SECRET, "sha256")
    assert SECRET.reveal() not in str(caught.value)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def receipts():
    """The receipt app on a real loopback server; yields (url, receipts taken, app options)."""
    taken: list = []
    options = {"fail": False}

    def on_receipt(receipt):
        if options["fail"]:
            raise RuntimeError("the delivery log is down")
        taken.append(receipt)

    with pytest.deprecated_call():
        app = receipt_app(on_receipt, signature_secret=SECRET, method="sha256")
    server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/receipts", taken, options
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_app_takes_get_form_and_json(receipts):
    url, taken, _ = receipts
    params = signed(RECEIPT)
    answers = [requests.get(url, params=params, timeout=5),
               requests.post(url, data=params, timeout=5),
               requests.post(url, json=params, timeout=5)]
    assert [a.status_code for a in answers] == [204, 204, 204]
    assert [r.provider_id for r in taken] == ["0B00000127FDBC63"] * 3
    assert all(r.client_ref == RECEIPT["client-ref"] for r in taken)


def test_the_app_refuses_bad_calls_without_passing_them_on(receipts):
    url, taken, _ = receipts
    forged = requests.get(url, params={**signed(RECEIPT), "status": "failed"}, timeout=5)
    unsigned = requests.post(url, data=RECEIPT, timeout=5)
    malformed = requests.post(url, data=b"{not json", timeout=5,
                              headers={"Content-Type": "application/json"})
    not_a_receipt = requests.get(url, params=signed({"hello": "world"}), timeout=5)
    wrong_method = requests.put(url, data=RECEIPT, timeout=5)
    assert [forged.status_code, unsigned.status_code, malformed.status_code,
            not_a_receipt.status_code, wrong_method.status_code] == [403, 403, 400, 400, 405]
    assert "does not match" in forged.text
    assert taken == []


def test_a_failure_to_record_asks_the_provider_to_send_again(receipts, caplog):
    url, _, options = receipts
    options["fail"] = True
    answer = requests.get(url, params=signed(RECEIPT), timeout=5)
    assert answer.status_code == 500
    assert "could not record the delivery receipt for 0B00000127FDBC63" in caplog.text


def test_the_deprecated_engine_app_takes_receipts_through_the_receive_hook(make_engine,
                                                                            settings, api):
    """Send through the fake API, then post the carrier's receipt to the app: the log shows it."""
    api.signature_secret, api.signature_method = SECRET.reveal(), "sha256"
    engine = make_engine({**settings, "signature_secret": SECRET.reveal(),
                          "signature_method": "sha256"})
    (message_id,) = engine.send("texts", to="07700 900123", text="See you at 9")
    assert engine.run_worker(once=True).sent == 1
    (accepted,) = engine.log(message_id=message_id)
    with pytest.deprecated_call():
        app = engine_receipt_app(engine, "texts")
    server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/receipts"
        receipt = {**RECEIPT, "client-ref": message_id, "messageId": accepted.provider_id,
                   "msisdn": "447700900123", "api-key": api.api_key}
        assert requests.post(url, data=signed(receipt), timeout=5).status_code == 204
        stranger = {**receipt, "client-ref": "not-one-of-ours", "messageId": "0D0000000001"}
        assert requests.post(url, data=signed(stranger), timeout=5).status_code == 204
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    report, first = engine.log(message_id=message_id)
    assert first.outcome == "accepted"
    assert (report.outcome, report.provider_id, report.cost) == (
        "delivered", accepted.provider_id, "0.03330000")
    assert report.info["report"] == "delivery"
    assert report.recipient == "+447700900123"
    assert len(engine.log()) == 2
