"""Views that send mail the ways Django projects do, with nothing postroom-specific
but ``engine()`` for SMS."""

from email.mime.image import MIMEImage

from django.core.mail import EmailMultiAlternatives, send_mail, send_mass_mail
from django.core.mail.message import make_msgid
from django.db import transaction
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from clinic.models import Booking
from postroom.contrib.django import engine

# A 1x1 PNG: the clinic's logo, as far as tests are concerned.
LOGO = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")
INVITE = "\r\n".join([
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Riverside Clinic//EN", "METHOD:REQUEST",
    "BEGIN:VEVENT", "UID:appt-2291@clinic.example", "DTSTAMP:20260301T090000Z",
    "DTSTART:20260303T093000Z", "DTEND:20260303T100000Z", "SUMMARY:Check-up",
    "END:VEVENT", "END:VCALENDAR", ""])


class Overbooked(Exception):
    pass


@csrf_exempt
def book(request):
    """A booking and its confirmation: both happen, or neither."""
    email = request.POST["email"]
    try:
        with transaction.atomic():
            Booking.objects.create(email=email)
            send_mail("Booked", "See you on Tuesday.", None, [email],
                      html_message="<p>See you on <b>Tuesday</b>.</p>")
            if request.POST.get("overbooked"):
                raise Overbooked
    except Overbooked:
        return HttpResponse("overbooked", status=409)
    return HttpResponse("booked")


@csrf_exempt
def invite(request):
    """An invitation: html with an inline logo, a calendar alternative, an attachment."""
    message_id = make_msgid(domain="clinic.example")
    message = EmailMultiAlternatives(
        "Your appointment", "Your appointment is on Tuesday.", "Dr Okafor <okafor@clinic.example>",
        [request.POST["email"]], cc=["records@clinic.example"], bcc=["audit@clinic.example"],
        reply_to=["desk@clinic.example"],
        headers={"X-Booking": "2291", "Message-ID": message_id})
    message.attach_alternative('<p>Tuesday at 9:30</p><img src="cid:logo@clinic.example">',
                               "text/html")
    message.attach_alternative(INVITE, "text/calendar; method=REQUEST")
    logo = MIMEImage(LOGO, "png")
    logo.add_header("Content-ID", "<logo@clinic.example>")
    logo.add_header("Content-Disposition", "inline", filename="logo.png")
    message.attach(logo)
    message.attach("directions.txt", "Second door on the left.", "text/plain")
    if request.POST.get("account"):
        message.postroom_account = request.POST["account"]
    message.send()
    return HttpResponse(message_id)


@csrf_exempt
def remind(request):
    """An SMS reminder straight through postroom's engine."""
    [message_id] = engine().send("texts", to=request.POST["phone"], text="Reminder: Tuesday 9:30")
    return HttpResponse(message_id)


@csrf_exempt
def newsletter(request):
    """send_mass_mail: one message per recipient, over one backend."""
    addresses = request.POST.getlist("email")
    sent = send_mass_mail([("News", "Our new opening hours.", None, [a]) for a in addresses])
    return HttpResponse(str(sent))
