"""A recipient the server defers (4xx) while it takes the message for the others
gets the message later, once, with the headers as they were."""

from __future__ import annotations

from loopback.smtp import Answer, Command, running_smtp

from postroom import EmailMessage, Engine


class DeferOnce:
    """Answer 451 to the first RCPT for ``address``, accept it afterwards (greylisting)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.deferred = 0

    def __call__(self, command: Command):
        if command.name == "RCPT" and command.address == self.address and not self.deferred:
            self.deferred += 1
            return Answer("451 4.7.1 greylisted, try again later")
        return None


def test_deferred_recipients_get_a_copy_later_and_nobody_gets_it_twice(tmp_path,
                                                                        store_settings):
    clock = [1_800_000_000.0]
    greylist = DeferOnce("zoe@example.org")
    with running_smtp(faults=[greylist]) as server:
        engine = Engine.from_dict(
            {"delivery": {"backoff": 30}, "store": store_settings,
             "accounts": {"office": {"provider": "smtp", "host": server.host,
                                     "port": server.port, "security": "none",
                                     "sender_email": "desk@example.org"}}},
            base_dir=tmp_path, environ={}, clock=lambda: clock[0])
        (original,) = engine.send("office", EmailMessage(
            to=["ann@example.org", "zoe@example.org"], cc="bo@example.org",
            subject="Minutes", text="Attached."))
        engine.run_worker(once=True, wait=0)
        assert [r.recipients for r in server.received] == [("ann@example.org",
                                                            "bo@example.org")]
        (row,) = engine.queue()
        assert (row.sent, row.scheduled) == (1, 1)  # the original went; the copy waits

        clock[0] += 31
        engine.run_worker(once=True, wait=0)
        first, again = server.received
        assert again.recipients == ("zoe@example.org",)
        assert again.message()["To"] == first.message()["To"]  # the same headers
        assert again.message()["Cc"] == "bo@example.org"
        (row,) = engine.queue()
        assert (row.sent, row.scheduled, row.waiting) == (2, 0, 0)

        (accepted,) = engine.log(message_id=original)
        assert accepted.info["refused zoe@example.org"].startswith("451")
        clock[0] += 3600
        assert engine.run_worker(once=True, wait=0).batches == 0  # nothing more to send
        assert len(server.received) == 2
