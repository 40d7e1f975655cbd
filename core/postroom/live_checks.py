"""The step SMS providers' ``postroom_test`` hooks share: sending the test message.

A provider checks its own credentials and balance first; then, when the admin
gave a number, it hands its batch send to ``send_test_sms`` and reports the
diagnosis it gets back, or adds its own facts to a message that went.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from postroom.dispatch import each_result
from postroom.errors import MessageError
from postroom.messages import SmsMessage
from postroom.results import Diagnosis, SendResult

TEST_SMS_TEXT = "postroom test message: this account can send text messages."


def send_test_sms(target: str, region: str | None,
                  send: Callable[[Sequence[SmsMessage]], Iterable],
                  facts: dict[str, str]) -> tuple[SmsMessage, SendResult] | Diagnosis:
    """Send the test SMS to ``target`` through ``send`` (the provider's batch send,
    answering as ``postroom_send`` does).

    Returns the message and its accepted result, or a failed ``Diagnosis`` at
    stage ``send``: ``invalid-target`` for a number that cannot be read, else
    the category and hint the provider put in the result's ``info``.
    """
    try:
        message = SmsMessage(to=target, text=TEST_SMS_TEXT, region=region)
    except MessageError as exc:
        return Diagnosis.failed("send", "invalid-target", str(exc),
                                "give the number with its country code, as +44...", facts)
    (result,) = each_result(send([message]))
    if not result.ok:
        return Diagnosis.failed("send", result.info.get("category", "refused"),
                                f"the test message to {message.to} was not sent: {result.text}",
                                result.info.get("hint", ""), facts)
    return message, result
