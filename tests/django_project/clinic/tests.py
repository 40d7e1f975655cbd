"""The clinic's own tests, run by Django's test runner (``manage.py test clinic``).

Django swaps EMAIL_BACKEND out while testing; these tests put postroom's
back, as a project does to test its email path, and postroom captures
instead of sending (Django's test environment turns its capture on).
"""

from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.db import transaction
from django.test import TransactionTestCase, override_settings

from clinic.models import Booking
from clinic.views import INVITE, LOGO
from postroom import ConfigError
from postroom.contrib.django import engine
from postroom.contrib.django.testing import PostroomAssertions, outbox


@override_settings(EMAIL_BACKEND="postroom.contrib.django.EmailBackend")
class EmailThroughPostroom(PostroomAssertions, TransactionTestCase):
    """TransactionTestCase: commits are real, so on_commit runs as in production."""

    def test_a_booking_queues_its_confirmation_when_it_commits(self):
        response = self.client.post("/book/", {"email": "ann@example.org"})
        self.assertEqual(response.status_code, 200)
        [sent] = self.assertPostroomSent(account="office", to="ann@example.org", count=1)
        self.assertEqual(sent.message.subject, "Booked")
        self.assertEqual(sent.message.text, "See you on Tuesday.")
        self.assertEqual(sent.message.html, "<p>See you on <b>Tuesday</b>.</p>")
        # DEFAULT_FROM_EMAIL: the account's own sender is used.
        self.assertIsNone(sent.message.sender)

    def test_a_rolled_back_booking_queues_nothing(self):
        response = self.client.post("/book/", {"email": "ann@example.org", "overbooked": "1"})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(Booking.objects.count(), 0)
        self.assertPostroomSent(count=0)
        self.assertEqual(engine().queue(), [])

    def test_nothing_is_queued_before_the_transaction_commits(self):
        with transaction.atomic():
            send_mail("Hi", "text", None, ["bo@example.org"])
            self.assertEqual(outbox().queued, [])
        self.assertPostroomSent(to="bo@example.org", count=1)

    def test_an_invitation_keeps_every_part(self):
        response = self.client.post("/invite/", {"email": "ann@example.org"})
        message_id = response.content.decode()
        [sent] = self.assertPostroomSent(subject="Your appointment", count=1)
        message = sent.message
        self.assertEqual(message.message_id, message_id)
        self.assertEqual(str(message.sender), "Dr Okafor <okafor@clinic.example>")
        self.assertEqual(message.recipients,
                         ["ann@example.org", "records@clinic.example", "audit@clinic.example"])
        self.assertEqual([str(a) for a in message.reply_to], ["desk@clinic.example"])
        self.assertEqual(dict(message.headers), {"X-Booking": "2291"})
        [logo] = message.inline
        self.assertEqual((logo.content_id, logo.content, logo.filename),
                         ("logo@clinic.example", LOGO, "logo.png"))
        self.assertIn('src="cid:logo@clinic.example"', message.html)
        [calendar] = message.alternatives
        self.assertEqual(calendar.content_type, "text/calendar; method=REQUEST")
        self.assertEqual(calendar.content, INVITE)
        [directions] = message.attachments
        self.assertEqual((directions.filename, directions.content, directions.content_type),
                         ("directions.txt", b"Second door on the left.", "text/plain"))

    def test_a_message_may_choose_its_account(self):
        self.client.post("/invite/", {"email": "ann@example.org", "account": "bulk"})
        self.assertPostroomSent(account="bulk", count=1)

    def test_send_mass_mail_queues_one_message_each(self):
        response = self.client.post("/newsletter/", {"email": ["a@example.org", "b@example.org"]})
        self.assertEqual(response.content, b"2")
        self.assertPostroomSent(subject="News", count=2)

    def test_headers_that_show_other_recipients_than_the_envelope(self):
        EmailMessage("Hi", "text", None, ["real@example.org"], bcc=["hidden@example.org"],
                     headers={"To": "List <list@example.org>", "Date": "Tue, 3 Mar 2026",
                              "Reply-To": "a@example.org, b@example.org"}).send()
        [sent] = self.assertPostroomSent(count=1)
        self.assertEqual([str(a) for a in sent.message.to], ["List <list@example.org>"])
        self.assertEqual(sent.message.recipients, ["real@example.org", "hidden@example.org"])
        self.assertEqual(len(sent.message.reply_to), 2)
        self.assertEqual(dict(sent.message.headers), {})  # Date: postroom dates it when built

    @override_settings(POSTROOM_SENDER="django")
    def test_the_django_sender_mode_always_uses_the_messages_from(self):
        send_mail("Hi", "text", None, ["bo@example.org"])
        [sent] = self.assertPostroomSent(count=1)
        self.assertEqual(str(sent.message.sender), settings.DEFAULT_FROM_EMAIL)

    def test_bad_input_raises_in_the_view_naming_the_field(self):
        with self.assertRaisesMessage(ValueError, "to: 'not-an-address' is not a valid"):
            send_mail("Hi", "text", None, ["not-an-address"])
        with self.assertRaisesMessage(ConfigError, "no account named 'nope'"):
            message = EmailMessage("Hi", "text", None, ["bo@example.org"])
            message.postroom_account = "nope"
            message.send()

    @override_settings(POSTROOM_ON_COMMIT=False)
    def test_on_commit_can_be_turned_off(self):
        with transaction.atomic():
            send_mail("Hi", "text", None, ["bo@example.org"])
            self.assertEqual(len(outbox().queued), 1)


class TextsThroughPostroom(PostroomAssertions, TransactionTestCase):

    def test_an_sms_from_a_view_is_captured_not_sent(self):
        response = self.client.post("/remind/", {"phone": "07700 900123"})
        [sms] = self.assertPostroomSent(account="texts", to="+447700900123", count=1)
        self.assertEqual(sms.message.id, response.content.decode())
        # The configured outbox and SMS file were never touched.
        configured = engine().config  # the capture's copy
        self.assertNotEqual(configured.store.path, Path(settings.POSTROOM).parent / "real.db")
        self.assertFalse((Path(settings.POSTROOM).parent / "real.db").exists())
        self.assertFalse((Path(settings.POSTROOM).parent / "texts.jsonl").exists())

    def test_the_worker_delivers_to_the_capturing_providers(self):
        self.client.post("/remind/", {"phone": "07700 900124"})
        self.assertEqual(engine().run_worker(once=True, wait=0).sent, 1)
        self.assertPostroomSent(to="+447700900124", delivered=True, count=1)

    def test_email_in_tests_goes_to_djangos_outbox_as_usual(self):
        from django.core import mail

        send_mail("Hi", "text", None, ["bo@example.org"])
        self.assertEqual(len(mail.outbox), 1)
        self.assertPostroomSent(count=0)
