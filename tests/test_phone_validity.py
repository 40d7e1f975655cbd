"""Phone numbers are checked for validity, not only for a possible length."""

from __future__ import annotations

import pytest

from postroom import MessageError, SmsMessage
from postroom.addresses import phone_number


@pytest.mark.parametrize(("raw", "region", "country"), [
    ("12345", "GB", "GB"),            # possible in length, but no British number looks so
    ("+44 7700 901000", None, "GB"),  # just past the range set aside for drama
    ("+1 201 055 0123", None, "US"),  # no US exchange starts with 0
])
def test_an_invalid_number_is_refused_naming_the_number_and_region(raw, region, country):
    with pytest.raises(MessageError) as caught:
        SmsMessage(to=raw, text="hi", region=region)
    assert caught.value.field == "to"
    assert f"{raw!r} is not a valid number in {country}" in str(caught.value)
    assert "check the digits" in str(caught.value)


@pytest.mark.parametrize(("raw", "e164"), [
    ("07700 900000", "+447700900000"),   # Ofcom's drama range, first and last
    ("07700 900999", "+447700900999"),
    ("07911 123456", "+447911123456"),   # an ordinary mobile
    ("020 7946 0000", "+442079460000"),  # a London line
])
def test_valid_and_fictional_numbers_pass(raw, e164):
    assert phone_number(raw, "GB") == e164
