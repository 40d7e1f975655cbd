"""Exchange Online's SMTP refusals, read for the office admin.

Exchange words its refusals in a few well-known ways; each is matched by a
pattern and gets a stable category and a hint that names the admin page (or
PowerShell command) where it is fixed. Login refusals (``535``) come from
the XOAUTH2 step; send refusals from MAIL, RCPT or DATA. A daily recipient
limit reached or a sender Microsoft restricted stops the account rather
than failing the message: nothing sent through it can go until time passes
or an admin acts.
"""

from __future__ import annotations

import re

import attrs
from attrs import frozen

from postroom import Diagnosis, Outcome, SendResult

EXCHANGE_ADMIN = "Exchange admin center (admin.exchange.microsoft.com)"
M365_ADMIN = "Microsoft 365 admin center (admin.microsoft.com)"
# Exchange counts recipients over a rolling 24 hours: a day surely clears the limit.
DAILY_LIMIT_PAUSE = 24 * 3600.0


@frozen
class Reading:
    """A refusal Exchange words this way: ``category`` for scripts, ``hint`` for the admin."""

    pattern: re.Pattern[str]
    category: str
    hint: str

    def matches(self, text: str) -> bool:
        return bool(self.pattern.search(text))


def _reading(pattern: str, category: str, hint: str) -> Reading:
    return Reading(re.compile(pattern, re.IGNORECASE), category, hint)


def login_readings(address: str, client_id: str, app_only: bool) -> list[Reading]:
    """Exchange's login refusals for the mailbox ``address``, most specific first."""
    if app_only:
        token = (f"Exchange does not let the app {client_id} use the mailbox {address}: the "
                 "app needs Office 365 Exchange Online's SMTP.SendAsApp permission with admin "
                 "consent, its service principal registered in Exchange Online "
                 f"(New-ServicePrincipal -AppId {client_id} -ObjectId <the Object ID from "
                 "Enterprise applications>) and access to the mailbox (Add-MailboxPermission "
                 f"-Identity {address} -User <that service principal> -AccessRights "
                 "FullAccess); the mailbox must exist and have an Exchange Online licence. "
                 "Changes take up to an hour to apply")
    else:
        token = (f"Exchange refused the token for {address}: the refresh token must have been "
                 f"granted by {address}'s own user, to the app {client_id}, with the SMTP.Send "
                 "permission; the mailbox must exist and have an Exchange Online licence")
    return [
        _reading(r"disabled for the tenant", "smtp-auth-disabled-tenant",
                 f"SMTP AUTH is turned off for the whole organisation: in the {EXCHANGE_ADMIN}, "
                 "Settings, Mail flow, untick \"Turn off SMTP AUTH protocol for your "
                 "organization\" (PowerShell: Set-TransportConfig "
                 "-SmtpClientAuthenticationDisabled $false); it can take an hour to apply"),
        _reading(r"disabled for the mailbox", "smtp-auth-disabled-mailbox",
                 f"SMTP AUTH is turned off for {address}: in the {M365_ADMIN}, Users, Active "
                 "users, the user, Mail, Manage email apps, tick \"Authenticated SMTP\" "
                 f"(PowerShell: Set-CASMailbox -Identity {address} "
                 "-SmtpClientAuthenticationDisabled $false)"),
        _reading(r"licen[cs]e", "mailbox-not-licensed",
                 f"{address} has no Exchange Online licence: in the {M365_ADMIN}, Users, Active "
                 "users, the user, Licenses and apps, assign a plan that includes Exchange "
                 "Online (a shared mailbox used for sending needs one too)"),
        _reading(r"security defaults", "blocked-by-security-defaults",
                 "the tenant's security defaults block SMTP AUTH: in Microsoft Entra admin "
                 "center, Overview, Properties, Manage security defaults, turn them off and "
                 "protect sign-ins with Conditional Access instead"),
        _reading(r"5\.7\.139", "smtp-auth-refused",
                 "the organisation's sign-in policies refused this login (an authentication "
                 "policy or Conditional Access): an admin allows SMTP AUTH for this mailbox "
                 "and app"),
        _reading(r"5\.7\.3\b|\b535\b", "token-refused", token),
    ]


SEND_READINGS = (
    _reading(r"5\.1\.90|SubmissionQuotaExceeded", "daily-limit-reached",
             "the mailbox has sent to Exchange Online's daily limit of recipients (10,000 "
             "in 24 hours, To, Cc and Bcc counted); postroom pauses the account for 24 hours "
             "and sends the rest then; if this recurs, lower daily_cap in the account's "
             "[schedule] (it counts messages, Exchange counts recipients)"),
    _reading(r"5\.1\.8\b|5\.7\.511|banned sender|bad outbound sender", "sender-restricted",
             "Microsoft stopped this mailbox from sending (it looked like spam or a taken-over "
             "account): check the account is safe, then an admin releases it in the Microsoft "
             "Defender portal (security.microsoft.com), Email & collaboration, Review, "
             "Restricted entities"),
    _reading(r"SendAsDenied|5\.7\.60\b", "send-as-denied",
             "the mailbox may not send as this From address: send from the mailbox's own "
             "address, or an admin grants it Send As on the other one (Exchange admin center, "
             "Recipients, Mailboxes, the other mailbox, Delegation, Send as)"),
)
# How each send refusal changes a message's result: the account pauses, or the message fails.
_SEND_OUTCOMES = {"daily-limit-reached": (Outcome.ACCOUNT_STOPPED, DAILY_LIMIT_PAUSE),
                  "sender-restricted": (Outcome.ACCOUNT_STOPPED, None),
                  "send-as-denied": (Outcome.PERMANENT, None)}


def first_match(readings: list[Reading] | tuple[Reading, ...], text: str) -> Reading | None:
    """The first reading whose pattern is in ``text``."""
    return next((reading for reading in readings if reading.matches(text)), None)


def send_result(result: SendResult) -> SendResult:
    """``result`` with Exchange's meaning of its refusal, if it has a known one."""
    if result.ok:
        return result
    reading = first_match(SEND_READINGS, f"{result.code} {result.text}")
    if reading is None:
        return result
    outcome, pause = _SEND_OUTCOMES[reading.category]
    return attrs.evolve(result, outcome=outcome, retry_after=pause,
                        text=f"{result.text}; {reading.hint}")


def diagnosis(found: Diagnosis, logins: list[Reading]) -> Diagnosis:
    """A failed test with Exchange's category and hint, when its refusal is a known one."""
    readings = {"auth": logins, "send": SEND_READINGS}.get(found.stage)
    if found.ok or readings is None:
        return found
    reading = first_match(readings, found.detail)
    if reading is None:
        return found
    return Diagnosis.failed(found.stage, reading.category, found.detail, reading.hint,
                            found.facts)
