"""The live test: go through every step a real send takes, and send a test message."""

from __future__ import annotations

from collections.abc import Sequence

from postroom import Address, Diagnosis, EmailMessage
from postroom_smtp.diagnosis import explain, explain_refusal
from postroom_smtp.transport.envelope import Envelope
from postroom_smtp.transport.errors import SessionError
from postroom_smtp.transport.session import SmtpSession
from postroom_smtp.transport.smtp_transport import SmtpTransport

TEST_SUBJECT = "postroom test message"
TEST_TEXT = ("This is a test message from postroom. It was sent to check that this "
             "account can connect, log in and send. No reply is needed.\n")


def check_transport(transport: SmtpTransport, sender: Address, target: str | None,
                    reply_to: Sequence[Address] = ()) -> Diagnosis:
    """Connect, negotiate TLS, log in and send a test message to ``target``.

    Without ``target`` the message goes to the sender's own address, as an
    admin testing an account expects. The first step that fails is
    diagnosed; ambiguous TLS failures get a second look (one short probe).
    """
    recipient = target or sender.email
    facts = {"server": str(transport.server), "security": transport.server.security}
    message = EmailMessage(to=recipient, subject=TEST_SUBJECT, text=TEST_TEXT)
    envelope = Envelope.of(message, sender, reply_to)
    with SmtpSession(transport) as session:
        try:
            session.open()
            facts.update(session.facts)
            delivery = session.deliver(envelope)
        except SessionError as failure:
            facts.update(session.facts)
            return explain(failure, transport, probe=True).diagnosis(facts)
    if not delivery.accepted:
        return explain_refusal(delivery, envelope, transport).diagnosis(facts)
    facts.update({"sent to": recipient, "message id": envelope.header_id,
                  "server reply": str(delivery.reply)})
    return Diagnosis.passed(
        "send", f"connected to {transport.server} (TLS {facts['tls']}, login "
        f"{facts['login']}) and sent a test message to {recipient}", facts)
