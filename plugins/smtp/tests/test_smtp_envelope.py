"""The envelope's wire form: the bytes the email library would write, made faster."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postroom import Address, Attachment, EmailMessage
from postroom.mime import build_mime
from postroom_smtp.transport.envelope import wire_bytes

TEXT = st.text(st.sampled_from("ab yz.,:;!?\t\r\n=-_\"'<>()é€中😀" + "x" * 8), max_size=300)
LINE = TEXT.map(lambda text: " ".join(text.split()))  # one line, for headers
NAME = st.sampled_from(["", "Ann", "Lee, Ann", "Zoë Ünal", '"Q" Ann', "x" * 90])


@st.composite
def messages(draw) -> EmailMessage:
    body = draw(st.sampled_from(["text", "html", "both"]))
    long_line = draw(st.booleans())
    text = draw(TEXT) + ("y" * 1200 if long_line else "")
    return EmailMessage(
        to=[Address("ann@example.org", draw(NAME)), Address("zoe@bücher.example", draw(NAME))],
        subject=draw(LINE), text=text if body != "html" else None,
        html=f"<p>{draw(TEXT)}</p>" if body != "text" else None,
        headers={"X-Ref": draw(LINE)} if draw(st.booleans()) else {},
        attachments=[Attachment(draw(st.sampled_from(["a.pdf", "Übersicht.csv"])),
                                draw(st.binary(max_size=200)))] if draw(st.booleans()) else [])


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(message=messages(), sender_name=NAME)
def test_the_wire_form_is_what_the_email_library_writes(message, sender_name):
    mime = build_mime(message, Address("office@example.org", sender_name))

    assert wire_bytes(mime) == bytes(mime)
