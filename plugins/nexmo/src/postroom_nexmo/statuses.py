"""What each ``status`` of the SMS API means for postroom.

The API answers HTTP 200 for most refusals and puts a numeric ``status``
(a string) on each part of the message. Each code maps to an ``Outcome``:
wait and retry (throttled, internal error, too many connections), stop the
account (out of credit), or give up on the message (the rest).
"""

from __future__ import annotations

from attrs import frozen

from postroom.results import Outcome

OK = "0"
THROTTLED = "1"
QUOTA = "9"


@frozen
class Status:
    """One documented status code: its name, outcome and what to do about it.

    ``account_wide`` marks refusals of the account itself (credentials,
    suspension, credit): every further message of the batch would be refused
    the same way, so the rest are not sent.
    """

    code: str
    name: str
    outcome: Outcome
    hint: str = ""
    account_wide: bool = False

    @property
    def category(self) -> str:
        """A stable key for scripts: the name in lower case with dashes."""
        return "-".join(self.name.lower().replace("-", " ").split())


_T, _S, _A, _P = Outcome.TRANSIENT, Outcome.THROTTLED, Outcome.ACCOUNT_STOPPED, Outcome.PERMANENT

STATUSES: dict[str, Status] = {s.code: s for s in [
    Status(THROTTLED, "Throttled", _S,
           "requests came faster than the account's limit; lower rate_per_second"),
    Status("2", "Missing Parameters", _P, "a required field was empty; report this as a bug"),
    Status("3", "Invalid Parameters", _P, "the API refused a value; check sender and number"),
    Status("4", "Invalid Credentials", _P,
           "check api_key and api_secret in the dashboard's API settings", account_wide=True),
    Status("5", "Internal Error", _T, "the provider failed; it usually passes, retry later"),
    Status("6", "Invalid Message", _P,
           "the API could not route it, often an unknown number prefix; check the number"),
    Status("7", "Number Barred", _P, "the recipient's number is on the provider's block list"),
    Status("8", "Partner Account Barred", _P,
           "the account is suspended; contact Vonage support", account_wide=True),
    Status(QUOTA, "Partner Quota Violation", _A,
           "the account is out of credit; top it up in the dashboard", account_wide=True),
    Status("10", "Too Many Existing Binds", _T,
           "too many connections at once; lower connections"),
    Status("11", "Account Not Enabled For HTTP", _P,
           "the account is set up for SMPP, not this API; ask Vonage support",
           account_wide=True),
    Status("12", "Message Too Long", _P, "shorten the text"),
    # 13 and 16-20 come from older client libraries; current pages no longer list them.
    Status("13", "Communication Failed", _T, "the provider could not pass it on; retry later"),
    Status("14", "Invalid Signature", _P,
           "signature_secret or signature_method does not match the dashboard",
           account_wide=True),
    Status("15", "Invalid Sender Address", _P,
           "this sender id or number may not be used for this destination (common in North "
           "America, where a virtual number is needed); change sender"),
    Status("16", "Invalid TTL", _P, "the validity period was refused"),
    Status("17", "Number Unreachable", _P, "the number cannot be reached by SMS"),
    Status("18", "Too Many Destinations", _P, "send to one number per message"),
    Status("19", "Facility Not Allowed", _P, "the account may not use this feature"),
    Status("20", "Invalid Message Class", _P, "the message class was refused"),
    Status("22", "Invalid Network Code", _P, "the network code does not match the number"),
    Status("23", "Invalid Callback Url", _P, "receipt_url was refused; check it"),
    Status("29", "Non-Whitelisted Destination", _P,
           "a demo account sends only to the test numbers listed in the dashboard; add this "
           "number there, or top up to leave demo mode"),
    Status("32", "Signature And API Secret Disallowed", _P,
           "the account only takes signed requests; set signature_secret", account_wide=True),
    Status("33", "Number De-activated", _P, "the recipient's number is no longer in service"),
]}


def status_for(code: str) -> Status:
    """The meaning of ``code``; an undocumented one is taken as a permanent refusal."""
    return STATUSES.get(code) or Status(code, f"Status {code}", _P,
                                        "an undocumented status; see the provider's error list")

