"""The archive copy at a real SMTP server (aiosmtpd on loopback): the archive address is
in every email's envelope, once per message whatever the recipients, in no header; the
delivery log says so."""

from __future__ import annotations

import pytest
from loopback.smtp import Answer, Command, running_smtp

from postroom import ConfigError, EmailMessage, Engine

ARCHIVE = "records@example.org"


def engine_for(server, tmp_path, clock=None, **top) -> Engine:
    account = {"provider": "smtp", "host": server.host, "port": server.port,
               "security": "none", "sender_email": "desk@example.org"}
    return Engine.from_dict({"delivery": {"backoff": 30}, **top,
                             "accounts": {"office": account}},
                            base_dir=tmp_path, environ={},
                            **({"clock": lambda: clock[0]} if clock else {}))


def test_every_email_goes_to_the_archive_once_and_no_header_shows_it(tmp_path):
    with running_smtp() as server:
        engine = engine_for(server, tmp_path, archive_bcc=ARCHIVE)
        (many,) = engine.send("office", EmailMessage(
            to=["ann@example.org", "bo@example.org"], cc="cy@example.org",
            bcc="di@example.org", subject="Minutes", text="Attached."))
        (one,) = engine.send("office", to="ed@example.org", subject="Hello", text="Hi.")
        engine.run_worker(once=True, wait=0)
        first, second = server.received
    assert first.recipients == ("ann@example.org", "bo@example.org", "cy@example.org",
                                "di@example.org", ARCHIVE)
    assert second.recipients == ("ed@example.org", ARCHIVE)
    for received in (first, second):
        assert ARCHIVE.encode() not in received.content  # not in any header, nor the body
        assert received.message()["Bcc"] is None
    for message_id in (many, one):
        (entry,) = engine.log(message_id=message_id)
        assert (entry.outcome, entry.info["archive copy"]) == ("accepted", ARCHIVE)


def test_an_account_archive_address_wins_over_the_top_level_one(tmp_path):
    with running_smtp() as server:
        engine = Engine.from_dict({
            "archive_bcc": ARCHIVE,
            "accounts": {
                "office": {"provider": "smtp", "host": server.host, "port": server.port,
                           "security": "none", "sender_email": "desk@example.org",
                           "archive_bcc": "office-records@example.org"},
                "texts": {"provider": "sms_file"}}}, base_dir=tmp_path, environ={})
        assert engine.account("office").archive_bcc == "office-records@example.org"
        assert engine.account("texts").archive_bcc is None  # SMS have no archive copy
        engine.send("office", to="ann@example.org", subject="s", text="t")
        engine.run_worker(once=True, wait=0)
        (received,) = server.received
    assert received.recipients == ("ann@example.org", "office-records@example.org")


class DeferOnce:
    """451 for the first RCPT of ``address``; accepted afterwards."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.deferred = False

    def __call__(self, command: Command):
        if command.name == "RCPT" and command.address == self.address and not self.deferred:
            self.deferred = True
            return Answer("451 4.7.1 greylisted, try again later")
        return None


def test_the_copy_for_a_deferred_recipient_is_not_archived_again(tmp_path):
    clock = [1_800_000_000.0]
    with running_smtp(faults=[DeferOnce("zoe@example.org")]) as server:
        engine = engine_for(server, tmp_path, clock, archive_bcc=ARCHIVE)
        engine.send("office", to=["ann@example.org", "zoe@example.org"], subject="s",
                    text="t")
        engine.run_worker(once=True, wait=0)
        clock[0] += 31
        engine.run_worker(once=True, wait=0)
        first, again = server.received
    assert first.recipients == ("ann@example.org", ARCHIVE)
    assert again.recipients == ("zoe@example.org",)


def test_a_deferred_archive_address_gets_its_one_copy_later(tmp_path):
    clock = [1_800_000_000.0]
    with running_smtp(faults=[DeferOnce(ARCHIVE)]) as server:
        engine = engine_for(server, tmp_path, clock, archive_bcc=ARCHIVE)
        engine.send("office", to="ann@example.org", subject="s", text="t")
        engine.run_worker(once=True, wait=0)
        clock[0] += 31
        engine.run_worker(once=True, wait=0)
        clock[0] += 3600
        engine.run_worker(once=True, wait=0)
        assert [r.recipients for r in server.received] == [("ann@example.org",), (ARCHIVE,)]


@pytest.mark.parametrize(("settings", "path", "words"), [
    ({"archive_bcc": "not an address"}, "accounts.office.archive_bcc", "address"),
    ({"archive_bcc": ARCHIVE, "provider": "sms_file"}, "accounts.office.archive_bcc",
     "only email accounts"),
])
def test_a_bad_archive_setting_names_the_setting(tmp_path, settings, path, words):
    account = {"provider": "email_file", **settings}
    with pytest.raises(ConfigError) as failed:
        Engine.from_dict({"accounts": {"office": account}}, base_dir=tmp_path, environ={},
                         strict=True)
    ((where, message),) = failed.value.issues
    assert where == path and words in message
