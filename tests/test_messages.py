"""Messages are checked when made: addresses, numbers, header injection."""

from __future__ import annotations

import email
import email.policy
import string
from email.mime.text import MIMEText

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom import Address, Attachment, EmailMessage, MessageError, SmsMessage, addresses, mime
from postroom.mime import build_mime


@pytest.mark.parametrize("field", ["subject", "to", "cc", "bcc", "reply_to", "sender"])
@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r"])
def test_line_breaks_in_any_header_field_are_refused(field, breaker):
    fields = {"to": "ann@example.org", "subject": "Hi", "text": "."}
    value = "x@example.org" if field != "subject" else "Hi"
    fields[field] = value + breaker + "Bcc: victim@example.org"
    with pytest.raises(MessageError) as caught:
        EmailMessage(**fields)
    assert caught.value.field == field
    assert "line break" in str(caught.value)


def test_line_breaks_in_display_names_extra_headers_and_file_names_are_refused():
    with pytest.raises(MessageError, match="display name"):
        EmailMessage(to=Address("ann@example.org", "Ann\nBcc: x@example.org"), text=".")
    with pytest.raises(MessageError, match=r"headers\.X-Ref"):
        EmailMessage(to="ann@example.org", text=".", headers={"X-Ref": "1\r\nBcc: x@y.org"})
    with pytest.raises(MessageError, match="not a valid header name"):
        EmailMessage(to="ann@example.org", text=".", headers={"X Ref: 1\r\nBcc": "x"})
    with pytest.raises(MessageError, match="file name"):
        Attachment("a\r\n.pdf", b"", "application/pdf")


@pytest.mark.parametrize("bad", ["ann", "ann@", "@example.org", "ann example@x.org", "jörg@x.org",
                                 "ann@@example.org", "Ann <ann@example.org"])
def test_invalid_addresses_name_the_field(bad):
    with pytest.raises(MessageError) as caught:
        EmailMessage(to=["ok@example.org", bad], text=".")
    assert caught.value.field == "to"


def test_addresses_are_parsed_with_display_names_and_normalised():
    message = EmailMessage(to="Ann Lee <ann@EXAMPLE.org>", cc=["bo@example.org"],
                           bcc="Hidden <h@example.org>", text=".")
    assert message.to == (Address("ann@example.org", "Ann Lee"),)
    assert message.recipients == ["ann@example.org", "bo@example.org", "h@example.org"]


def test_an_email_needs_a_recipient_and_a_body():
    with pytest.raises(MessageError, match="at least one recipient"):
        EmailMessage(to=[], text=".")
    with pytest.raises(MessageError, match="text or an html body"):
        EmailMessage(to="ann@example.org", subject="empty")


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("+44 7700 900123", None, "+447700900123"),
    ("07700 900123", "GB", "+447700900123"),
    ("(201) 555-0123", "US", "+12015550123"),
    ("0049 30 901820", "DE", "+4930901820"),
    ("+33 6 12 34 56 78", "GB", "+33612345678"),
])
def test_phone_numbers_are_normalised_to_e164(raw, region, e164):
    assert SmsMessage(to=raw, text="hi", region=region).to == e164


def test_a_local_number_without_a_region_says_how_to_fix_it():
    with pytest.raises(MessageError, match=r"no country code.*default region"):
        SmsMessage(to="07700 900123", text="hi")


@pytest.mark.parametrize("bad", ["12", "not a number", "+44 12", "07700\n900123"])
def test_impossible_numbers_are_refused(bad):
    with pytest.raises(MessageError) as caught:
        SmsMessage(to=bad, text="hi", region="GB")
    assert caught.value.field == "to"


def test_mime_has_alternative_attachments_and_encoded_headers(tmp_path):
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 report")
    message = EmailMessage(to="Jörg Müller <jorg@example.org>", subject="Übersicht für März",
                           text="plain", html="<p>rich</p>", reply_to="desk@example.org",
                           attachments=[report, Attachment("data.csv", b"a,b\n", "text/csv")])
    raw = bytes(build_mime(message, Address("office@example.org", "Büro")))
    assert raw.isascii()
    assert b"\r\n" in raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Übersicht für März"
    assert str(parsed["From"]) == "Büro <office@example.org>"
    assert str(parsed["To"]) == "Jörg Müller <jorg@example.org>"
    assert parsed["Reply-To"] == "desk@example.org"
    assert parsed["Message-ID"] == f"<{message.id}@example.org>"
    assert parsed["Date"]
    assert "Bcc" not in parsed
    body = parsed.get_body(("plain",))
    assert body.get_content().strip() == "plain"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>rich</p>"
    files = {part.get_filename(): part for part in parsed.iter_attachments()}
    assert files["report.pdf"].get_content_type() == "application/pdf"
    assert files["report.pdf"].get_content() == b"%PDF-1.4 report"
    assert files["data.csv"].get_content_type() == "text/csv"


def test_mime_encodes_idn_domains_long_subjects_and_non_ascii_file_names():
    subject = "Erinnerung: Ihr Termin am Dienstag, den 4. März, um 09:30 Uhr " * 3
    message = EmailMessage(to="Zoë <zoe@bücher.example>", subject=subject.strip(),
                           text="Grüße " * 300,
                           attachments=[Attachment("Übersicht.pdf", b"%PDF", "application/pdf")])
    raw = bytes(build_mime(message, Address("buero@example.org", "Büro")))
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject.strip()
    assert str(parsed["To"]) == "Zoë <zoe@xn--bcher-kva.example>"
    assert parsed.get_body(("plain",)).get_content().strip() == ("Grüße " * 300).strip()
    (part,) = parsed.iter_attachments()
    assert part.get_filename() == "Übersicht.pdf"


# The fast paths: the same results as the library calls they stand in for --------------

_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
_ODD = ".@ \"(),:;<>[\\]é中\t"
_DOMAINS = ["example.org", "EXAMPLE.org", "mail.internal", "bücher.example", "localhost",
            "example", "-bad-.org", "xn--bcher-kva.example", "[127.0.0.1]", "a" * 64 + ".org",
            "x.invalid", "ex_ample.org", "", "a" * 60 + "." + "b" * 20 + ".org"]


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(local=st.one_of(st.text(_ATEXT + ".", min_size=0, max_size=70),
                       st.text(_ATEXT, min_size=170, max_size=200),  # too long with the domain
                       st.text(_ATEXT + _ODD, max_size=12),
                       st.sampled_from(["Postmaster", "ABUSE", "info", "a..b", ".a", "a."])),
       domain=st.sampled_from(_DOMAINS))
def test_the_address_check_agrees_with_the_library_on_every_address(local, domain):
    # Plain local parts on a domain checked once take a shortcut: it must say
    # exactly what email_validator says of the whole address.
    value = f"{local}@{domain}"

    def outcome(check):
        try:
            return check(value)
        except ValueError as refused:
            return ("refused", str(refused))

    assert outcome(addresses._validated) == outcome(addresses._checked_by_library)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(body=st.text(string.printable, max_size=400), subtype=st.sampled_from(["plain", "html"]))
def test_a_7bit_text_part_is_the_one_mimetext_makes(body, subtype):
    made, reference = mime._text_part(body, subtype), MIMEText(body, subtype, "us-ascii")

    assert bytes(made) == bytes(reference)
    assert vars(made) == vars(reference)
