"""The test-SMS step SMS providers' test hooks share."""

from __future__ import annotations

from postroom import Diagnosis, SendResult
from postroom.live_checks import TEST_SMS_TEXT, send_test_sms


def test_an_unreadable_number_is_an_invalid_target_and_nothing_is_sent():
    sent = []
    found = send_test_sms("12", "GB", lambda batch: sent.extend(batch) or [], {"host": "h"})
    assert isinstance(found, Diagnosis)
    assert (found.ok, found.stage, found.category) == (False, "send", "invalid-target")
    assert found.facts == {"host": "h"}
    assert sent == []


def test_a_refused_test_message_carries_the_providers_category_and_hint():
    def refuse(batch):
        return [SendResult.permanent(m.id, "29", "Non-Whitelisted Destination",
                                     info={"category": "not-whitelisted", "hint": "add it"})
                for m in batch]

    found = send_test_sms("07700 900123", "GB", refuse, {})
    assert (found.category, found.hint) == ("not-whitelisted", "add it")
    assert found.detail == ("the test message to +447700900123 was not sent: "
                            "Non-Whitelisted Destination")


def test_an_accepted_test_message_comes_back_with_its_result():
    message, result = send_test_sms("07700 900123", "GB",
                                    lambda batch: [SendResult.accepted(m.id, "p1")
                                                   for m in batch], {})
    assert (message.to, message.text, result.provider_id) == ("+447700900123", TEST_SMS_TEXT,
                                                               "p1")
