"""The live test: go through every step a real send takes, and send a test message if asked."""

from __future__ import annotations

from collections.abc import Sequence

from postroom import Address, Diagnosis, EmailMessage
from postroom_smtp.diagnosis import explain
from postroom_smtp.refusals import explain_refusal
from postroom_smtp.transport.envelope import Envelope
from postroom_smtp.transport.errors import SessionError
from postroom_smtp.transport.session import SmtpSession
from postroom_smtp.transport.smtp_transport import SmtpTransport

TEST_SUBJECT = "postroom test message"
TEST_TEXT = ("This is a test message from postroom. It was sent to check that this "
             "account can connect, log in and send. No reply is needed.\n")


def check_transport(transport: SmtpTransport, sender: Address, target: str | None,
                    reply_to: Sequence[Address] = ()) -> Diagnosis:
    """Connect, negotiate TLS, log in, then check the sender or send a test message.

    Without ``target`` nothing is sent: the server is asked whether it takes
    mail from the sender (MAIL FROM, and RCPT TO the sender's own address,
    since many servers check the sender only then), and the transaction is
    reset. With ``target`` a test message goes there. The first step that
    fails is diagnosed; ambiguous TLS failures get a second look (one short
    probe).
    """
    facts = {"server": str(transport.server), "security": transport.server.security}
    message = EmailMessage(to=target or sender.email, subject=TEST_SUBJECT, text=TEST_TEXT)
    envelope = Envelope.of(message, sender, reply_to)
    with SmtpSession(transport) as session:
        try:
            session.open()
            facts.update(session.facts)
            if target is None:
                delivery = session.check_envelope(envelope.sender, envelope.recipients[0])
            else:
                delivery = session.deliver(envelope)
        except SessionError as failure:
            facts.update(session.facts)
            return explain(failure, transport, probe=True).diagnosis(facts)
    if not delivery.accepted:
        finding = explain_refusal(delivery, envelope, transport, account_sender=envelope.sender)
        return finding.diagnosis(facts)
    reached = (f"connected to {transport.server} (TLS {facts['tls']}, login "
               f"{facts['login']})")
    if target is None:
        facts["sender check"] = (f"MAIL FROM:<{envelope.sender}> and RCPT TO:<{envelope.sender}> "
                                 "accepted, then reset: nothing was sent")
        return Diagnosis.passed("send", f"{reached}; the server takes mail from "
                                f"{envelope.sender} (nothing sent: give a test address to send "
                                "a test message)", facts)
    facts.update({"sent to": target, "message id": envelope.header_id,
                  "server reply": str(delivery.reply)})
    return Diagnosis.passed("send", f"{reached} and sent a test message to {target}", facts)
