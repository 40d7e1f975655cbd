"""Attachments and message sizes: only regular files are attached, and no message
larger than its account's ``max_message_size`` is queued.

A pipe would block ``send`` forever and ``/dev/zero`` fill the memory; a
file, a text from standard input or an SMS larger than the account takes is
refused with the file or field named, and nothing is queued.
"""

from __future__ import annotations

import os
import time

import pytest
from hostile import outbox, run, write_config

from postroom import Attachment, Engine, MessageError
from postroom.providers.email_file import EmailFileConfig

pytestmark = pytest.mark.timeout(120)

SMALL = """
[accounts.mail]
provider = "email_file"
max_message_size = 1000

[accounts.texts]
provider = "sms_file"
region = "GB"
"""


def send_attaching(config, path):
    return run(config, "send", "-a", "mail", "--to", "ann@example.org", "--text", "see file",
               "--attach", str(path))


@pytest.mark.parametrize(("kind", "says"), [
    ("fifo", "it is a named pipe (FIFO), not a regular file"),
    ("device", "it is a device, not a regular file"),
    ("folder", "it is a folder, not a regular file"),
    ("missing", "No such file or directory"),
])
def test_only_a_regular_file_is_attached(tmp_path, kind, says):
    config = write_config(tmp_path)
    path = {"fifo": tmp_path / "pipe", "device": "/dev/zero", "folder": tmp_path / "folder",
            "missing": tmp_path / "missing.pdf"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    if kind == "folder":
        path.mkdir()
    started = time.monotonic()
    code, said = send_attaching(config, path)
    assert code == 2 and f"error: attachments: cannot attach {path}: {says}" in said, said
    assert time.monotonic() - started < 10
    assert outbox(tmp_path) == []


def test_a_file_larger_than_the_account_takes_is_refused_unread(tmp_path):
    config = write_config(tmp_path, accounts=SMALL)
    big = tmp_path / "report.pdf"
    big.write_bytes(b"%PDF" + b"0" * 5000)
    code, said = send_attaching(config, big)
    assert code == 2 and f"cannot attach {big}: it is larger than 1000 bytes" in said
    assert outbox(tmp_path) == []


def test_bodies_and_attachments_together_are_measured(tmp_path):
    config = write_config(tmp_path, accounts=SMALL)
    with Engine.from_file(config) as engine:
        with pytest.raises(MessageError) as refused:
            engine.send("mail", to="ann@example.org", text="x" * 600,
                        attachments=[Attachment("a.txt", b"y" * 600, "text/plain")])
        assert refused.value.field == "attachments"
        assert "the message is 1.172 KiB, more than the 1000 bytes account 'mail' takes " \
               "(max_message_size)" in str(refused.value)
        engine.send("mail", to="ann@example.org", text="x" * 400,
                    attachments=[Attachment("a.txt", b"y" * 500, "text/plain")])
    assert len(outbox(tmp_path)) == 1


def test_a_text_on_standard_input_is_read_only_up_to_the_limit(tmp_path):
    config = write_config(tmp_path)
    huge = b"x" * (60 * 1024 * 1024)  # 60 MB against the default 25 MiB
    code, said = run(config, "send", "-a", "mail", "--queue", "--to", "ann@example.org",
                     "--text", "-", stdin=huge)
    assert code == 2 and "text: standard input holds more than 25 MiB" in said
    assert outbox(tmp_path) == []


def test_an_sms_longer_than_the_account_takes_is_refused(tmp_path):
    config = write_config(tmp_path)
    code, said = run(config, "send", "-a", "texts", "--to", "07700 900123", "--text",
                     "x" * 2000)
    assert code == 2
    assert "text: the text is 2,000 characters, more than the 1,600 account 'texts' takes" \
        in said
    assert outbox(tmp_path) == []


@pytest.mark.parametrize("value", ["0", '"25MB"', "-1", "1e9", "10000000000"])
def test_a_bad_max_message_size_is_named(tmp_path, value):
    config = write_config(tmp_path, accounts=f"""
[accounts.mail]
provider = "email_file"
max_message_size = {value}
""")
    code, said = run(config, "validate")
    assert code == 2 and "accounts.mail.max_message_size: expected a whole number" in said


def test_a_provider_sets_the_default_and_the_account_overrides_it(tmp_path, monkeypatch):
    monkeypatch.setattr(EmailFileConfig, "max_message_size", 2000, raising=False)
    data = {"accounts": {"mail": {"provider": "email_file"},
                         "small": {"provider": "email_file", "max_message_size": 10},
                         "texts": {"provider": "sms_file"}}}
    with Engine.from_dict(data, base_dir=tmp_path, environ={}) as engine:
        sizes = {name: a.max_message_size for name, a in engine.config.accounts.items()}
    assert sizes == {"mail": 2000, "small": 10, "texts": 1600}
