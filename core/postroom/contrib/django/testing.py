"""Testing a Django project that sends through postroom, with Django's own test runner.

During ``manage.py test`` (and pytest-django) Django sends email to
``django.core.mail.outbox`` as usual; everything sent through postroom
itself (``engine().send``, SMS, templates, events, and email when a test
puts ``EmailBackend`` back with ``override_settings``) is captured instead
of sent, on a throwaway outbox::

    from postroom.contrib.django.testing import PostroomTestCase

    class BookingTests(PostroomTestCase):
        def test_booking_texts_the_patient(self):
            self.client.post("/book/", {"phone": "07700 900123"})
            [sms] = self.assertPostroomSent(account="texts", to="+447700900123")

Test settings may say ``POSTROOM_CAPTURE = True`` to capture outside the
test runner too.
"""

from __future__ import annotations

from django.test import TestCase

from postroom import capture
from postroom.capture import Captured, Outbox
from postroom.contrib.django.engine import engine
from postroom.templating import Rendered


def outbox() -> Outbox:
    """The outbox of the running capture; raises when messages are not captured."""
    engine()  # builds the engine, which turns capture on in Django's test environment
    active = capture.current()
    if active is None:
        raise RuntimeError("postroom is not capturing: run under Django's test runner, or "
                           "set POSTROOM_CAPTURE = True in the test settings")
    return active.outbox


class PostroomAssertions:
    """Mixin for any ``SimpleTestCase``: an empty capture per test, and assertions."""

    def setUp(self) -> None:
        super().setUp()
        outbox()
        capture.current().reset()

    def assertPostroomSent(self, *, count: int | None = None, delivered: bool = False,
                           **criteria: str | None) -> list[Captured]:
        """The messages that fit ``criteria`` (``account``, ``to``, ``channel``,
        ``subject``, ``contains``); fails, listing what was captured, if none do."""
        return outbox().expect(count=count, delivered=delivered, **criteria)

    def assertPostroomRendered(self, template: str | None = None, *, to: str | None = None,
                               count: int | None = None) -> list[Rendered]:
        """The renderings of ``template`` (for ``to``); fails if there are none."""
        return outbox().expect_rendered(template, to=to, count=count)


class PostroomTestCase(PostroomAssertions, TestCase):
    """Django's ``TestCase`` with postroom's capture and assertions."""
