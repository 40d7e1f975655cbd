"""Request signatures, checked against the rule written out by hand."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from postroom_nexmo.signing import sign, signature, signed_text, verify

PARAMS = {"to": "447700900123", "from": "Clinic", "text": "Tea & cake = 5€",
          "api_key": "abc", "timestamp": "1700000000"}
# Sorted by name; & and = inside values become _.
TEXT = "&api_key=abc&from=Clinic&text=Tea _ cake _ 5€&timestamp=1700000000&to=447700900123"


def test_the_signed_text():
    assert signed_text(PARAMS) == TEXT
    assert signed_text({**PARAMS, "sig": "ignored"}) == TEXT


def test_md5hash_appends_the_secret():
    assert signature(PARAMS, "s3cr3t", "md5hash") == hashlib.md5(
        (TEXT + "s3cr3t").encode()).hexdigest()


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_the_other_methods_are_hmacs(method):
    expected = hmac.new(b"s3cr3t", TEXT.encode(), method).hexdigest()
    assert signature(PARAMS, "s3cr3t", method) == expected


def test_sign_adds_timestamp_and_sig_and_verify_checks_them():
    signed = sign({"to": "447700900123", "text": "Hi"}, "s3cr3t", "sha256", now=1700000000.7)
    assert signed["timestamp"] == "1700000000"
    assert verify(signed, "s3cr3t", "sha256")
    assert verify({**signed, "sig": signed["sig"].upper()}, "s3cr3t", "sha256")
    assert not verify({**signed, "text": "Hi!"}, "s3cr3t", "sha256")
    assert not verify(signed, "other", "sha256")
    assert not verify(signed, "s3cr3t", "sha512")
    assert not verify({k: v for k, v in signed.items() if k != "sig"}, "s3cr3t", "sha256")
    assert not verify({**signed, "sig": "ünïcode"}, "s3cr3t", "sha256")
