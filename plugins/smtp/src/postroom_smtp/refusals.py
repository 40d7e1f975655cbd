"""Why a server refused a message, read from its reply text and enhanced status code.

Servers refuse for the account's settings at whichever command their checks
run: Postfix, by default, answers its sender checks at RCPT time
(``smtpd_delay_reject = yes``), so a refused sender arrives as a refused
recipient, and some servers decide at the end of DATA. The command alone
cannot tell a sender the account may not use from a recipient that does not
exist; the reply can, through its words and its enhanced status code
(RFC 3463, ``5.7.1``).
"""

from __future__ import annotations

import re
from typing import Literal

from postroom_smtp.diagnosis import Finding, tls_required
from postroom_smtp.transport.delivery import Delivery, Reply
from postroom_smtp.transport.envelope import Envelope
from postroom_smtp.transport.smtp_transport import SmtpTransport

Reason = Literal["tls-required", "login-required", "sender-refused", "relay-denied"]

_ENHANCED = re.compile(r"^[245]\.(\d{1,3})\.(\d{1,3})\b")

# Checked in this order: "Sender address rejected: not logged in" is about the login.
_TEXTS: tuple[tuple[Reason, re.Pattern[str]], ...] = (
    ("tls-required", re.compile(r"starttls|tls (?:is )?required|encryption required", re.I)),
    ("login-required", re.compile(
        r"not logged in|authentication (?:is )?required|auth(?:entication)? first"
        r"|must (?:authenticate|log ?in)|not authenticated|login required", re.I)),
    ("sender-refused", re.compile(
        r"sender address rejected|sender (?:address )?(?:is )?(?:refused|denied|not allowed)"
        r"|not owned by|send(?:ing)? as .*(?:denied|not allowed)|not authorized to send", re.I)),
    ("relay-denied", re.compile(
        r"relay(?:ing)? (?:access )?(?:is )?(?:denied|not permitted|not allowed|prohibited)"
        r"|unable to relay|not permitted to relay|do not relay", re.I)),
)

# Enhanced codes that say it without words (subject.detail, as in 5.7.0).
_CODES: dict[tuple[str, str], Reason] = {
    ("7", "10"): "tls-required",    # encryption needed
    ("7", "11"): "tls-required",    # encryption required for the login method
    ("7", "57"): "login-required",  # Exchange: client not authenticated to send
    ("7", "60"): "sender-refused",  # Exchange: no permission to send as this sender
    ("1", "7"): "sender-refused",   # bad sender's mailbox address
    ("1", "8"): "sender-refused",   # bad sender's system address
}


def reason(reply: Reply) -> Reason | None:
    """Why the server refused, when it is about the account rather than the message.

    ``tls-required``: encrypt first; ``login-required``: log in first
    (any 530, ``Sender address rejected: not logged in``, X.7.57);
    ``sender-refused``: this account may not send as this sender
    (``Sender address rejected``, X.1.7, X.1.8); ``relay-denied``: the server
    does not pass mail on for this client. None for anything else: a
    recipient that does not exist, content, limits.
    """
    for why, words in _TEXTS:
        if words.search(reply.text):
            return why
    if reply.code == 530:
        return "login-required"  # RFC 4954: "530 5.7.0 Authentication required"
    found = _ENHANCED.match(reply.text)
    return _CODES.get((found[1], found[2])) if found else None


def _uses_pop_before_smtp(transport: SmtpTransport) -> bool:
    return any(prelude.name == "pop3" for prelude in transport.before_session)


def _login_required(transport: SmtpTransport, detail: str) -> Finding:
    if _uses_pop_before_smtp(transport):
        hint = ("the POP3 login before sending (POP-before-SMTP) did not open the server for "
                "this account: if the server offers SMTP login, set username and password; "
                "otherwise check that pop3.host is the server that lets you send after a "
                "POP3 login")
    else:
        hint = "the server wants a login before it takes mail: set username and password"
    return Finding("send", "login-required", detail, hint, True)


def _relay_denied(transport: SmtpTransport, envelope: Envelope, detail: str,
                  transient: bool) -> Finding:
    login = transport.authenticator
    if _uses_pop_before_smtp(transport):
        hint = ("the server did not pass the mail on after the POP3 login (POP-before-SMTP): "
                "check that pop3.host is the server that grants sending after a POP3 login "
                "(usually the same as host) and pop3.username this mailbox's login, and "
                "that the server still offers POP-before-SMTP; if it offers SMTP login, "
                "set username and password instead")
    elif login is None:
        hint = ("the server passes mail on to other domains only for logged-in users: set "
                'username and password (on the submission port 587, security = "starttls")')
    else:
        hint = (f"the server does not pass mail on for {login.identity} to "
                f"{', '.join(envelope.recipients)}: ask the mail admin whether this account "
                "may send there")
    # Without a working login nothing the account sends elsewhere can go.
    stops = login is None and not transient
    return Finding("send", "relay-denied", detail, hint, stops)


def _sender_refused(transport: SmtpTransport, envelope: Envelope, detail: str,
                    account_sender: str | None) -> Finding:
    who = f" ({transport.authenticator.identity})" if transport.authenticator else ""
    if account_sender is None or envelope.sender == account_sender:
        hint = (f"the server does not let this account{who} send as {envelope.sender}: set "
                "sender_email to an address the account may send from (often the login name "
                "itself), or ask the mail admin to allow this one")
        # The account's own sender: none of its messages can go until it is changed.
        return Finding("send", "sender-refused", detail, hint, account_sender is not None)
    hint = (f"the server does not let this account{who} send as {envelope.sender}, the "
            "message's own sender: send it from an address the account may use (such as "
            f"{account_sender}), or ask the mail admin to allow this one")
    return Finding("send", "sender-refused", detail, hint, False)


def explain_refusal(delivery: Delivery, envelope: Envelope, transport: SmtpTransport, *,
                    account_sender: str | None = None) -> Finding:
    """Say why the server refused a message and what to change.

    The reply decides, whichever command it answered: a sender refused at
    RCPT is ``sender-refused``, not a refused recipient. ``account_sender``
    is the envelope address of the account's own sender: a refusal of it
    stops the account (``stops_account``), since none of its messages could
    go; a message's own sender only fails that message.
    """
    server, reply = transport.server, delivery.reply
    detail = f"{server} refused {delivery.command}: {reply}"
    why = reason(reply)
    if why == "tls-required":
        return tls_required(server, detail, "send")
    if why == "login-required":
        return _login_required(transport, detail)
    if why == "relay-denied":
        return _relay_denied(transport, envelope, detail, reply.transient)
    if reply.transient:
        return Finding("send", "try-later", detail,
                       "the server asks to try again later (greylisting or a limit); postroom "
                       "retries by itself", False)
    if why == "sender-refused" or delivery.command == "MAIL":
        # A refusal at MAIL is about the sender even in words not known here;
        # only one understood as such stops the account.
        return _sender_refused(transport, envelope, detail,
                               account_sender if why == "sender-refused" else None)
    if delivery.command == "RCPT":
        return Finding("send", "recipient-refused",
                       f"{server} refused the recipient {', '.join(delivery.refused)}: {reply}",
                       "check the address: the server says it cannot take mail for it", False)
    return Finding("send", "message-refused", detail,
                   "the server refused the message itself (content, size or policy); its "
                   "reply above says why", False)
