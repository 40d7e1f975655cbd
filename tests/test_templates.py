"""Templates: sandbox, strict variables, escaping, locales, signature, filters, previews."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from postroom.errors import ConfigError, MessageError
from postroom.messages import EmailMessage, SmsMessage
from postroom.settings import make_converter, structure
from postroom.templating import (
    Recipient,
    TemplateError,
    Templates,
    TemplateSettings,
    locale_chain,
    parse_vars,
)
from postroom.templating.filters import money, phone
from postroom.templating.render import sign

FIXTURES = Path(__file__).parent / "fixtures" / "templates"
UTC = dt.UTC
SHARED = {"clinic": "North Street & Co", "office_phone": "020 7946 0000"}
APPOINTMENT = dt.datetime(2025, 3, 30, 8, 30, tzinfo=UTC)


def ann(**fields) -> Recipient:
    values = {"appointment": APPOINTMENT, "note": "bring your card"} | fields.pop("context", {})
    return Recipient(**{"to": "ann@example.org", "name": "Ann", "context": values} | fields)


@pytest.fixture
def folder(tmp_path) -> Path:
    """A copy of the fixture templates that a test may add files to."""
    return Path(shutil.copytree(FIXTURES, tmp_path / "templates"))


def make(folder: Path, **settings) -> Templates:
    return Templates(TemplateSettings(directory=folder, timezone="Europe/London", **settings),
                     region="GB")


@pytest.fixture
def templates(folder) -> Templates:
    return make(folder)


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def sms(folder: Path, source: str, context: dict | None = None, **settings) -> str:
    """Render ``source`` as the SMS part of a fresh template."""
    write(folder, {"probe/sms.txt": source})
    return make(folder, **settings).render("probe", "sms", context).text


# --- the sandbox -------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "refused"), [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "'__class__'"),
    ("{{ cycler.__init__.__globals__ }}", "'__init__'"),
    ("{{ cycler.mro() }}", "'mro'"),
    ("{{ '{0.__class__}'.format(value) }}", "'__class__'"),
    ("{{ value.__class__.__base__ }}", "'__class__'"),
    ("{% if ''.__class__ %}x{% endif %}", "'__class__'"),
    ("{{ items.append(4) }}", "append"),
    ("{{ range(10**9) | list }}", "MAX_RANGE"),
    ("{{ range(100001) | length }}", "MAX_RANGE"),
    ("{{ 'x' * 10**9 }}", "'*' would build 1,000,000,000 items"),
    ("{{ [1] * 200000 }}", "'*' would build 200,000 items"),
    ("{{ 2 ** 100000 }}", "'**' would build"),
    ("{% for i in range(99999) %}{% for j in range(99999) %}0123456789{% endfor %}{% endfor %}",
     "longer than 1,000,000 characters"),
])
def test_sandbox_refuses_escapes_and_blow_ups(folder, source, refused):
    with pytest.raises(TemplateError, match="the sandbox refused it") as caught:
        sms(folder, "Hello\n" + source, {"value": 7, "items": [1, 2, 3]})
    assert refused in str(caught.value)
    assert caught.value.template == "probe" and caught.value.part == "sms"


@pytest.mark.parametrize(("source", "shown"), [
    ("{{ range(100000) | length }}", "100000"),
    ("{{ 'ab' * 3 }}", "ababab"),
    ("{{ 2 ** 10 }}", "1024"),
    ("{{ '{0} at {1}'.format(value, 9) }}", "7 at 9"),
])
def test_the_caps_leave_ordinary_templates_alone(folder, source, shown):
    assert sms(folder, source, {"value": 7}) == shown


def test_sandbox_errors_carry_the_line(folder):
    with pytest.raises(TemplateError) as caught:
        sms(folder, "one\ntwo\n{{ cycler.__init__ }}")
    assert caught.value.line == 3
    assert str(caught.value).startswith("probe (sms part), line 3: the sandbox refused it")


def test_lipsum_is_not_offered(folder):
    with pytest.raises(TemplateError, match="'lipsum' is undefined"):
        sms(folder, "{{ lipsum(1) }}")


def test_application_objects_never_reach_a_template(templates):
    class Patient:
        def delete(self) -> None:
            raise AssertionError("a template called a method of an application object")

    with pytest.raises(MessageError, match="Patient object cannot go to a template") as caught:
        templates.render("reminder", "sms", SHARED | {"patients": [Patient()]}, recipient=ann())
    assert caught.value.field == "context.patients[0]"


# --- strict variables and errors people can act on ----------------------------------------

def test_a_missing_variable_names_template_part_line_and_variable(templates):
    recipient = Recipient(to="ann@example.org", name="Ann", context={"appointment": APPOINTMENT})
    with pytest.raises(TemplateError) as caught:
        templates.render("reminder", "email", SHARED, recipient=recipient)
    error = caught.value
    assert (error.template, error.part, error.line, error.file) == ("reminder", "text", 4, None)
    assert str(error) == ("reminder (text part), line 4: 'note' is undefined — pass it in the "
                          "context or remove it from the template")


def test_a_missing_recipient_field_is_not_printed_as_none(templates):
    nameless = Recipient(to="ann@example.org", context=ann().context)
    with pytest.raises(TemplateError, match="has no attribute 'name'"):
        templates.render("reminder", "sms", SHARED, recipient=nameless)


def test_an_error_in_a_layout_names_the_layout_and_its_line(templates):
    with pytest.raises(TemplateError) as caught:
        templates.render("reminder", "email", {"office_phone": "020 7946 0000"},
                         recipient=ann())
    error = caught.value
    # The text part renders first and needs clinic too; its include is the innermost frame.
    assert (error.part, error.file, error.line) == ("text", "_partials/footer.txt", 1)
    assert "'clinic' is undefined" in str(error)


def test_an_error_in_an_extended_layout(folder):
    write(folder, {"_layouts/email.html": "<html>\n<body>\n{{ banner }}\n{% block content %}"
                                          "{% endblock %}</body></html>"})
    with pytest.raises(TemplateError) as caught:
        make(folder).render("reminder", "email", SHARED, recipient=ann())
    assert str(caught.value).startswith(
        "reminder (html part), in _layouts/email.html, line 3: 'banner' is undefined")


def test_a_syntax_error_gives_its_line(folder):
    with pytest.raises(TemplateError, match=r"^probe \(sms part\), line 2: syntax error: "):
        sms(folder, "Hello\n{{ name }\n")


def test_a_missing_include_is_named(folder):
    with pytest.raises(TemplateError, match=r"no file '_partials/gone\.txt'") as caught:
        sms(folder, "Hello\n{% include '_partials/gone.txt' %}")
    assert caught.value.line == 2


def test_a_filter_error_is_a_template_error_with_its_line(folder):
    with pytest.raises(TemplateError, match=r"line 1: money: 'lots' is not an amount"):
        sms(folder, "{{ total | money('EUR') }}", {"total": "lots"})


def test_an_unknown_or_path_like_template_name(templates):
    with pytest.raises(TemplateError, match="no such template in the template folder; did you mean "
                       r"'reminder'\?; templates there: reminder, report_attached"):
        templates.render("remnder", "sms")
    with pytest.raises(TemplateError, match="not a template name"):
        templates.render("../reminder", "sms")


# --- escaping ---------------------------------------------------------------------------

def test_user_values_are_escaped_in_the_html_part_only(templates):
    hostile = "<script>alert(1)</script>"
    recipient = ann(name=hostile, context={"note": hostile})
    email = templates.render("reminder", "email", SHARED, recipient=recipient)
    text_sms = templates.render("reminder", "sms", SHARED, recipient=recipient).text

    assert hostile not in email.html
    assert "<p>Note: &lt;script&gt;alert(1)&lt;/script&gt;</p>" in email.html
    assert "<h1>North Street &amp; Co</h1>" in email.html  # in the layout too
    assert f"Note: {hostile}" in email.text and "North Street & Co" in email.text
    assert text_sms.endswith(hostile) and "&lt;" not in text_sms


def test_the_subject_is_one_line_whatever_the_values(folder):
    write(folder, {"probe/subject.txt": "About\n{{ topic }}", "probe/text.txt": "Body"})
    email = make(folder).render("probe", "email", {"topic": "a\r\nBcc: all@example.org"},
                                recipient="ann@example.org")
    assert email.subject == "About a Bcc: all@example.org"
    assert email.to_message().subject == email.subject


# --- layouts and includes ---------------------------------------------------------------

def test_layouts_and_includes_put_the_shared_pieces_around_the_words(templates):
    email = templates.render("reminder", "email", SHARED, recipient=ann())
    html = email.html
    order = [html.index(piece) for piece in (
        "<h1>North Street &amp; Co</h1>", "<p>Hello Ann,</p>",
        '<p class="footer">North Street &amp; Co, 020 7946 0000</p>', "</body>")]
    assert order == sorted(order)
    assert "\n\nNorth Street & Co, +44 20 7946 0000\n\n-- \n" in email.text


def test_an_edited_file_is_used_for_the_next_message(folder, templates):
    assert templates.render("reminder", "sms", SHARED, recipient=ann()).text.startswith("Hi Ann")
    sms_file = folder / "reminder" / "sms.txt"
    sms_file.write_text("Changed for {{ recipient.name }}")
    later = sms_file.stat().st_mtime + 5
    os.utime(sms_file, (later, later))
    assert templates.render("reminder", "sms", SHARED, recipient=ann()).text == "Changed for Ann"


def test_each_file_is_compiled_once_for_many_messages(templates, monkeypatch):
    compiled = []
    original = templates.environment.compile

    def counting(source, name=None, filename=None, raw=False, defer_init=False):
        compiled.append(name)
        return original(source, name, filename, raw, defer_init)

    monkeypatch.setattr(templates.environment, "compile", counting)
    people = [ann(name=f"Person {n}") for n in range(40)]
    rendered = templates.render_many("reminder", "email", people, SHARED)
    assert [r.recipient.name for r in rendered] == [p.name for p in people]
    assert sorted(compiled) == sorted(set(compiled)) and len(compiled) == 8


# --- per-recipient context --------------------------------------------------------------

def test_a_send_to_many_shares_context_and_keeps_each_recipients_values(templates):
    people = [
        Recipient(to="ann@example.org", name="Ann",
                  context={"appointment": "2025-03-31T09:00:00Z", "note": "room 1"}),
        {"to": "bob@example.org", "name": "Bob", "timezone": "America/New_York",
         "context": {"appointment": "2025-03-31T15:00:00Z", "note": "room 2",
                     "clinic": "Annex"}},
    ]
    first, second = templates.render_many("reminder", "email", people, SHARED)
    assert "Hello Ann," in first.text and "Monday 31 March at 10:00" in first.text
    assert "Hello Bob," in second.text and "Monday 31 March at 11:00" in second.text
    assert "room 1" in first.text and "room 2" in second.text
    assert "<h1>North Street &amp; Co</h1>" in first.html and "<h1>Annex</h1>" in second.html

    message = second.to_message(cc=["desk@example.org"])
    assert isinstance(message, EmailMessage)
    assert str(message.to[0]) == "Bob <bob@example.org>" and message.subject == second.subject


def test_an_sms_becomes_an_sms_message(templates):
    (rendered,) = templates.render_many("reminder", "sms", [ann(to="07700 900123")], SHARED)
    message = rendered.to_message(region="GB")
    assert isinstance(message, SmsMessage)
    assert message.to == "+447700900123" and message.text == rendered.text


def test_recipient_inputs_are_checked(templates):
    assert Recipient.of("ann@example.org") == Recipient(to="ann@example.org")
    with pytest.raises(MessageError, match="unknown keys"):
        Recipient.of({"to": "ann@example.org", "phone": "+447700900123"})
    with pytest.raises(MessageError, match="unknown time zone 'Europe/Pariss'"):
        Recipient(timezone="Europe/Pariss")
    with pytest.raises(MessageError, match="not a locale"):
        Recipient(locale="../../etc")
    with pytest.raises(MessageError, match="'recipient' is filled in by postroom"):
        templates.render("reminder", "sms", {"recipient": "x"}, recipient=ann())
    with pytest.raises(MessageError, match="has no recipient"):
        templates.render("reminder", "sms", SHARED, recipient=ann(to=None)).to_message()


# --- locales ----------------------------------------------------------------------------

@pytest.mark.parametrize(("locale", "channel", "version", "opening"), [
    ("fr", "email", "fr", "Bonjour Ann"),
    ("fr", "sms", "fr", "Bonjour Ann"),
    ("fr-CA", "sms", "fr", "Bonjour Ann"),
    ("de", "sms", None, "Hi Ann"),
    (None, "sms", None, "Hi Ann"),
    ("pt-BR", "sms", "pt", "Olá Ann"),
    ("pt_br", "sms", "pt", "Olá Ann"),
    # reminder.pt has no email parts, so Portuguese email is the base version, not a mix.
    ("pt-BR", "email", None, "Hello Ann"),
])
def test_locale_falls_back_along_the_chain(templates, locale, channel, version, opening):
    rendered = templates.render("reminder", channel, SHARED, recipient=ann(locale=locale))
    assert rendered.locale == version
    assert rendered.text.startswith(opening)


def test_a_locale_version_is_used_whole(templates):
    french = templates.render("reminder", "email", SHARED, recipient=ann(locale="fr"))
    assert french.subject == "Rappel : votre rendez-vous du 30/03/2025"
    assert french.html is None  # reminder.fr has no html.html; none is borrowed from English


def test_locale_chain_and_spelling():
    assert locale_chain("pt-BR") == ("pt-BR", "pt", None)
    assert locale_chain("zh-Hant-TW") == ("zh-Hant-TW", "zh-Hant", "zh", None)
    assert locale_chain(None) == (None,)
    assert Recipient(locale="PT_br").locale == "pt-BR"


# --- signature --------------------------------------------------------------------------

def test_the_signature_is_appended_to_email(templates):
    email = templates.render("reminder", "email", SHARED, recipient=ann())
    assert email.text.endswith("\n\n-- \nThe reception team")
    assert email.html.endswith('<p class="signature">The reception team</p>\n</body>\n</html>')


def test_a_message_can_opt_out_of_the_signature(templates):
    email = templates.render("reminder", "email", SHARED, recipient=ann(), signature=False)
    assert "-- " not in email.text and "reception team" not in email.text
    assert "signature" not in email.html and email.html.endswith("</body>\n</html>")


def test_sms_never_carries_the_signature(templates):
    assert "reception team" not in templates.render("reminder", "sms", SHARED,
                                                    recipient=ann()).text


def test_the_signature_has_locale_versions(folder):
    write(folder, {"_signature.fr/text.txt": "L'équipe de l'accueil"})
    french = make(folder).render("reminder", "email", SHARED, recipient=ann(locale="fr"))
    english = make(folder).render("reminder", "email", SHARED, recipient=ann())
    assert french.text.endswith("-- \nL'équipe de l'accueil")
    assert english.text.endswith("-- \nThe reception team")


def test_sign_places_html_before_body_or_at_the_end():
    assert sign("Hi", "<p>Hi</p>", "Sig", None) == ("Hi\n\n-- \nSig", "<p>Hi</p>")
    assert sign(None, "<p>Hi</p>", "Sig", "<b>Sig</b>") == (None, "<p>Hi</p>\n<b>Sig</b>")
    assert sign(None, "<BODY>x</BODY>", None, "<b>S</b>")[1] == "<BODY>x<b>S</b>\n</BODY>"


# --- filters ----------------------------------------------------------------------------

@pytest.mark.parametrize(("moment", "zone", "shown"), [
    # Paris moves its clocks from 02:00 CET to 03:00 CEST at 01:00 UTC on 30 March 2025.
    ("2025-03-30T00:30:00Z", "Europe/Paris", "Sunday 30 March 01:30 CET"),
    ("2025-03-30T01:30:00Z", "Europe/Paris", "Sunday 30 March 03:30 CEST"),
    ("2025-03-30T01:30:00+00:00", "Europe/London", "Sunday 30 March 02:30 BST"),
    ("2025-03-29T23:30:00Z", "America/New_York", "Saturday 29 March 19:30 EDT"),
])
def test_datetime_is_shown_in_the_recipients_zone_across_dst(folder, moment, zone, shown):
    write(folder, {"probe/sms.txt": "{{ at | datetime('%A %d %B %H:%M %Z') }}"})
    recipient = Recipient(timezone=zone, context={"at": moment})
    assert make(folder).render("probe", "sms", recipient=recipient).text == shown


def test_datetime_zone_precedence_and_plain_dates(folder):
    write(folder, {"probe/sms.txt": "{{ at | time }} {{ at | time('%H:%M', 'Asia/Tokyo') }} "
                                    "{{ day | date }} {{ at | date('%d/%m') }}"})
    context = {"at": dt.datetime(2025, 7, 1, 23, 15, tzinfo=UTC), "day": dt.date(2025, 7, 1)}
    # No recipient zone: the organisation's (Europe/London, BST in July).
    assert make(folder).render("probe", "sms", context).text == "00:15 08:15 01 July 2025 02/07"


def test_a_time_without_a_zone_is_refused(folder):
    with pytest.raises(TemplateError, match="has no time zone"):
        sms(folder, "{{ at | datetime }}", {"at": dt.datetime(2025, 3, 30, 9, 0)})
    with pytest.raises(TemplateError, match="has no time zone"):
        sms(folder, "{{ at | datetime }}", {"at": "2025-03-30T09:00"})


@pytest.mark.parametrize(("amount", "currency", "shown"), [
    (12.5, "EUR", "€12.50"),
    ("1234.565", "GBP", "£1,234.57"),
    (Decimal("0.005"), "usd", "$0.01"),
    (0.1 + 0.2, "EUR", "€0.30"),
    (-3, "CHF", "-CHF 3.00"),
    (Decimal("-0.001"), "EUR", "€0.00"),
])
def test_money(amount, currency, shown):
    assert money(amount, currency) == shown


@pytest.mark.parametrize(("amount", "currency"), [
    ("12,50", "EUR"), (True, "EUR"), ("NaN", "EUR"), (1, "euro"),
])
def test_money_refuses_what_is_not_money(amount, currency):
    with pytest.raises(ValueError, match="money: "):
        money(amount, currency)


@pytest.mark.parametrize(("style", "shown"), [
    ("international", "+44 20 7946 0000"), ("national", "020 7946 0000"),
    ("e164", "+442079460000"),
])
def test_phone(style, shown):
    assert phone("020 7946 0000", style, "GB") == shown
    assert phone("+44 20 7946 0000", style) == shown


def test_phone_refuses_bad_numbers_and_styles():
    with pytest.raises(ValueError, match=r"phone: .*no country code"):
        phone("020 7946 0000")
    with pytest.raises(ValueError, match="unknown style 'local'"):
        phone("+442079460000", "local")


# --- parts per channel, and validate ----------------------------------------------------

def test_a_template_without_the_channels_part_is_refused(templates):
    with pytest.raises(TemplateError, match=r"report_attached: cannot be sent by sms: "
                                            r"no sms part \(sms\.txt\)"):
        templates.render("report_attached", "sms", SHARED, recipient=ann())
    assert templates.check("report_attached", "email") == []
    (problem,) = templates.check("report_attached", "sms")
    assert (problem.severity, problem.field) == ("error", "report_attached")
    assert "no sms part (sms.txt)" in problem.message


def test_check_warns_about_locale_versions_that_fall_back(folder):
    write(folder, {"reminder.de/subject.txt": "Erinnerung", "reminder.de/text.txt": "Hallo"})
    (problem,) = make(folder).check("reminder", "sms")
    assert (problem.severity, problem.field) == ("warning", "reminder.de")
    assert "recipients with locale de get the base version" in problem.hint


def test_the_fixture_folder_validates_clean(templates):
    assert templates.problems() == []


@pytest.mark.parametrize(("files", "channels", "expected"), [
    ({"reminder/subjet.txt": "x"}, {}, ("warning", "reminder/subjet.txt", "not a part")),
    ({"reminder.fr/html.html": "<p>{% if %}</p>"}, {},
     ("error", "reminder.fr/html.html", "line 1: syntax error")),
    ({"_layouts/email.html": "{% block content %}"}, {},
     ("error", "_layouts/email.html", "syntax error")),
    ({"notice/subject.txt": "Notice", "notice/html.html": "{% extends '_layouts/mail.html' %}"},
     {},
     ("error", "notice/html.html", "refers to '_layouts/mail.html'")),
    ({"notice/text.txt": "Hello"}, {}, ("error", "notice", "no email subject (subject.txt)")),
    ({"Old reminder/text.txt": "x"}, {}, ("warning", "Old reminder", "not a template folder")),
    ({"reminder.french/text.txt": "x"}, {}, ("warning", "reminder.french", "not a template")),
    ({"reminder.pt-br/sms.txt": "x"}, {}, ("warning", "reminder.pt-br", "not a template")),
    ({}, {"report_attached": ["email", "sms"]}, ("error", "report_attached", "no sms part")),
    ({}, {"dispatch": ["sms"]}, ("error", "dispatch", "no such template")),
])
def test_validate_reports(folder, files, channels, expected):
    write(folder, files)
    found = [(p.severity, p.field, p.message) for p in make(folder, channels=channels).problems()]
    assert len(found) == 1, found
    severity, field, message = found[0]
    assert (severity, field) == expected[:2] and expected[2] in message


def test_validate_warns_about_a_one_sided_signature(folder):
    (folder / "_signature" / "html.html").unlink()
    (problem,) = make(folder).problems()
    assert problem.message == "no html signature, so html bodies go unsigned"


# --- preview ----------------------------------------------------------------------------

def test_preview_renders_every_part_the_template_has(templates):
    preview = templates.preview("reminder", context=SHARED, recipient=ann())
    assert preview.email == templates.render("reminder", "email", SHARED, recipient=ann())
    assert preview.sms == templates.render("reminder", "sms", SHARED, recipient=ann())
    only_email = templates.preview("report_attached", context=SHARED, recipient=ann())
    assert only_email.email is not None and only_email.sms is None
    with pytest.raises(TemplateError, match="no sms part"):
        templates.preview("report_attached", ["sms"], SHARED, recipient=ann())


def test_preview_of_a_two_segment_sms_with_cost_and_warning(folder):
    write(folder, {"probe/sms.txt": "{{ body }}"})
    preview = make(folder, max_sms_segments=1).preview(
        "probe", context={"body": "a" * 161}, price_per_segment=Decimal("0.045"))
    facts = preview.sms_facts
    assert (facts.encoding, facts.characters, facts.units, facts.segments, facts.per_segment) == (
        "GSM-7", 161, 161, 2, 153)
    assert facts.cost == Decimal("0.090")
    assert preview.warnings == ("the SMS needs 2 segments, more than the 1 allowed "
                                "(max_sms_segments); shorten it or raise the limit",)
    assert "GSM-7, 161 characters (161 septets), 2 segments of up to 153" in preview.as_text()
    assert "estimated cost: 0.090 (0.045 a segment)" in preview.as_text()


def test_preview_counts_the_euro_sign_twice(folder):
    # 160 characters, but € is an escape plus a character in GSM-7: 161 septets, 2 segments.
    write(folder, {"probe/sms.txt": "{{ 12 | money('EUR') }}{{ 'a' * 154 }}"})
    facts = make(folder).preview("probe").sms_facts
    assert (facts.encoding, facts.characters, facts.units, facts.segments) == (
        "GSM-7", 160, 161, 2)


def test_preview_says_why_an_sms_went_ucs2(folder):
    write(folder, {"probe/sms.txt": "Fête à 9h — à bientôt"})
    preview = make(folder).preview("probe")
    assert preview.sms_facts.encoding == "UCS-2"
    assert preview.sms_facts.ucs2_because == ("ê", "—", "ô")
    assert preview.warnings == ("the SMS goes as UCS-2, 70 characters a segment instead of "
                                "160, because of 'ê' '—' 'ô'",)
    assert preview.sms_facts.cost is None and "estimated cost" not in preview.as_text()


def test_preview_as_text_and_as_json(templates):
    recipient = ann(locale="fr", context={"note": "<b>"})
    preview = templates.preview("reminder", context=SHARED, recipient=recipient,
                                price_per_segment=Decimal("0.05"))
    text = preview.as_text()
    assert "=== email (version fr) ===\nsubject: Rappel : votre rendez-vous du 30/03/2025" in text
    assert "--- html ---" not in text
    assert "=== sms (version fr) ===" in text and preview.sms.text in text

    data = json.loads(json.dumps(preview.as_dict()))
    assert data["recipient"] == {"to": "ann@example.org", "name": "Ann", "locale": "fr"}
    assert data["email"]["version"] == "fr" and data["email"]["html"] is None
    assert data["sms"]["segments"] == 1 and data["sms"]["estimated_cost"] == "0.05"
    assert data["sms"]["text"].endswith("<b>")


def test_parse_vars():
    assert parse_vars(["name=Ann", "expr=a=b", "empty="]) == {"name": "Ann", "expr": "a=b",
                                                                "empty": ""}
    with pytest.raises(MessageError, match="expected NAME=VALUE, got 'name'"):
        parse_vars(["name"])


# --- settings ---------------------------------------------------------------------------

def test_settings_from_the_config_file(tmp_path, folder):
    converter = make_converter(tmp_path, {})
    settings = structure({"directory": "templates", "timezone": "Europe/Paris",
                          "channels": {"reminder": ["sms"], "report_attached": ["email"]}},
                         TemplateSettings, converter)
    assert settings.directory == folder and settings.max_sms_segments == 3
    assert make(folder, channels=settings.channels).problems() == []
    # reminder.pt translates only the SMS: Portuguese recipients' email is the base version.
    (problem,) = make(folder, channels={"reminder": ["email"]}).problems()
    assert (problem.severity, problem.field) == ("warning", "reminder.pt")


@pytest.mark.parametrize(("raw", "issue"), [
    ({"directory": "nowhere"}, ("directory", "no folder at")),
    ({"directory": "templates", "timezone": "Europe/Pariss"}, ("timezone", "unknown time zone")),
    ({"directory": "templates", "max_sms_segments": 0}, ("max_sms_segments", "above 0")),
    ({"directory": "templates", "channels": {"reminder": ["fax"]}},
     ("channels.reminder[0]", 'expected one of "email", "sms"')),
    ({"directory": "templates", "signature": "x"}, ("signature", "unknown setting")),
])
def test_settings_errors_name_the_setting(tmp_path, folder, raw, issue):
    with pytest.raises(ConfigError) as caught:
        structure(raw, TemplateSettings, make_converter(tmp_path, {}))
    ((path, message),) = caught.value.issues
    assert path == issue[0] and issue[1] in message
