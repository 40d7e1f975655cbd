"""GSM-7 / UCS-2 detection, segment counts and splits of ``postroom.sms_text``."""

from __future__ import annotations

import json
import string
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.sms_text import GSM7_BASIC, GSM7_EXTENSION, cost, encoding_of, is_gsm7, segment

EMOJI = "\U0001f600"  # outside the Basic Multilingual Plane: a surrogate pair in UTF-16


def test_the_alphabet_matches_the_published_tables():
    # Transcribed by kind rather than by code order, so a slip in either shows.
    letters = string.ascii_letters + string.digits
    punctuation = " !\"#%&'()*+,-./:;<=>?_@$"
    accented = "£¥èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà¤§¡¿"
    greek = "ΔΦΓΛΩΠΨΣΘΞ"
    assert set(letters + punctuation + accented + greek + "\n\r") == GSM7_BASIC
    assert len(GSM7_BASIC) == 127  # 128 codes less the escape
    assert sorted(GSM7_EXTENSION) == sorted("\f^{}\\[~]|€")
    assert not {"ç", "á", "`", "\x1b"} & (GSM7_BASIC | GSM7_EXTENSION)


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2),
                                                  (307, 3), (459, 3), (460, 4)])
def test_gsm7_segment_counts(length, segments):
    result = segment("a" * length)
    assert (result.encoding, result.units, result.segments) == ("GSM-7", length, segments)


def test_161_characters_split_153_and_8():
    result = segment("x" * 161)
    assert result.limit == 153
    assert result.part_units == (153, 8)
    assert [len(p) for p in result.parts] == [153, 8]


def test_extension_characters_take_two_septets():
    result = segment("{[€]}")
    assert (result.encoding, result.units, result.segments) == ("GSM-7", 10, 1)
    assert segment("€" * 80).segments == 1
    assert segment("€" * 81).segments == 2


def test_a_euro_on_the_boundary_moves_whole_to_the_next_part():
    # 152 septets, then the euro's escape would be the 153rd and its code the 154th.
    text = "a" * 152 + "€" + "b" * 10
    result = segment(text)
    assert result.parts[0] == "a" * 152
    assert result.parts[1].startswith("€")
    assert result.part_units == (152, 12)
    assert "".join(result.parts) == text


def test_a_euro_that_fits_exactly_stays():
    result = segment("a" * 151 + "€" + "b" * 10)
    assert result.part_units == (153, 10)
    assert result.parts[0].endswith("€")


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segment_counts(length, segments):
    result = segment("Ж" * length)
    assert (result.encoding, result.units, result.segments) == ("UCS-2", length, segments)
    assert result.limit == (70 if segments == 1 else 67)


def test_one_character_outside_the_alphabet_makes_all_of_it_ucs2():
    assert encoding_of("Hello there") == "GSM-7"
    assert encoding_of("Hello thére") == "GSM-7"  # é is in the alphabet, ê is not
    assert encoding_of("Hello thêre") == "UCS-2"
    assert not is_gsm7("a" * 200 + "ç")


def test_an_emoji_makes_the_text_ucs2_and_counts_as_two_units():
    result = segment("Hi " + EMOJI)
    assert (result.encoding, result.units, result.segments) == ("UCS-2", 5, 1)
    assert segment(EMOJI * 35).segments == 1
    assert segment(EMOJI * 35 + "a").segments == 2


def test_an_emoji_straddling_the_boundary_moves_whole():
    # 66 units, then the emoji's two units would end at 68 > 67.
    text = "Ж" * 66 + EMOJI + "Ж" * 10
    result = segment(text)
    assert result.parts[0] == "Ж" * 66
    assert result.parts[1].startswith(EMOJI)
    assert result.part_units == (66, 12)
    assert all(p.encode("utf-16-le").decode("utf-16-le") == p for p in result.parts)


def test_empty_text_is_one_empty_segment():
    assert segment("").parts == ("",)


def test_cost_is_price_times_segments():
    assert cost("a" * 161, Decimal("0.0333")) == Decimal("0.0666")
    assert cost("Ж" * 71, Decimal("0.05")) == Decimal("0.10")


# Text mixing every kind of character the split must handle.
characters = st.sampled_from(
    sorted(GSM7_BASIC) + sorted(GSM7_EXTENSION) + ["Ж", "ç", "€", EMOJI, "\U0001f44d\U0001f3fd"]
)


@given(st.lists(characters, max_size=500).map("".join))
def test_parts_join_back_and_each_fits_its_limit(text):
    result = segment(text)
    assert "".join(result.parts) == text
    assert result.segments == len(result.parts) == len(result.part_units)
    assert sum(result.part_units) == result.units
    assert all(used <= result.limit for used in result.part_units)
    assert result.limit in ((160, 70) if result.segments == 1 else (153, 67))
    # Each part is as full as it can be: the next character would not have fitted.
    width = (lambda c: 2 if c in GSM7_EXTENSION else 1) if result.encoding == "GSM-7" else (
        lambda c: 2 if ord(c) > 0xFFFF else 1)
    for used, following in zip(result.part_units, result.parts[1:], strict=False):
        assert used + width(following[0]) > result.limit


def test_the_sms_file_provider_records_encoding_and_segments(tmp_path):
    from postroom.messages import SmsMessage
    from postroom.providers import sms_file

    config = sms_file.SmsFileConfig(path=tmp_path / "sms.jsonl")
    messages = [SmsMessage(to="+447700900123", text=text) for text in ("Ж" * 71, "See you.")]
    (results,) = sms_file.postroom_send(config, messages)  # one append, one list of results
    assert all(r.ok for r in results)
    lines = config.path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["encoding"], r["segments"]) for r in records] == [("UCS-2", 2), ("GSM-7", 1)]
