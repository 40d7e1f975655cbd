"""Email addresses and phone numbers, checked by libraries that know the rules."""

from __future__ import annotations

import email.utils
import re
from functools import lru_cache

import email_validator
import phonenumbers
from attrs import frozen

from postroom.errors import MessageError


def check_header_text(value: str, what: str) -> str:
    """Refuse CR and LF: a line break in a header is how header injection works."""
    if "\r" in value or "\n" in value:
        raise ValueError(
            f"{what} contains a line break (CR/LF); header values must be one line, "
            "and postroom refuses them because a line break would let text add headers"
        )
    return value


def _checked_by_library(value: str) -> str:
    try:
        # Non-ASCII local parts need SMTPUTF8 end to end; refusing them here is
        # clearer than a failure at the mail server. IDN domains are fine.
        checked = email_validator.validate_email(
            value, check_deliverability=False, globally_deliverable=False, allow_smtputf8=False
        )
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid email address: {exc}") from None
    return checked.normalized


# RFC 5322's dot-atom in ASCII: the local part nearly every address has, which
# the library keeps as it is ...
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*\Z")
# ... but for the role names of RFC 2142, which it writes in lower case.
_ROLE_NAMES = frozenset({"info", "marketing", "sales", "support", "abuse", "noc", "security",
                         "postmaster", "hostmaster", "usenet", "news", "webmaster", "www",
                         "uucp", "ftp"})


@lru_cache(maxsize=1024)
def _checked_domain(domain: str) -> str | None:
    """The domain as the library normalises it, or None if it refuses it (then the
    whole address is checked, for the library's own words on what is wrong)."""
    try:
        return _checked_by_library(f"a@{domain}").rpartition("@")[2]
    except ValueError:
        return None


@lru_cache(maxsize=8192)  # the same senders and recipients come back again and again
def _validated(value: str) -> str:
    # Checking the domain is most of the library's cost, and a bulk send's thousands
    # of recipients share a few domains: each is checked once, and a plain local
    # part beside it needs no more than the library's own rule for it.
    local, _, domain = value.rpartition("@")
    if (_PLAIN_LOCAL.match(local) and local.lower() not in _ROLE_NAMES
            and (checked_domain := _checked_domain(domain)) is not None
            and len(local) + 1 + len(checked_domain) <= 254):
        return f"{local}@{checked_domain}"
    return _checked_by_library(value)


def ascii_email(address: str) -> str:
    """The address with an internationalised domain in its ASCII (IDNA) form, as
    headers and SMTP envelopes need it: ``zoe@bücher.example`` → ``zoe@xn--bcher-kva.example``."""
    local, _, domain = address.rpartition("@")
    return address if domain.isascii() else f"{local}@{domain.encode('idna').decode('ascii')}"


def split_addresses(value: str) -> list[str]:
    """The entries of a list of addresses, as in a To line: ``Ann <ann@example.org>,
    bob@example.org`` gives both.

    It is cut at commas, and at semicolons (as Outlook writes lists), but not
    inside a quoted name (``"Lee, Ann" <ann@example.org>``), angle brackets or
    a comment; blank entries are dropped. The entries are not checked here.
    """
    if "," not in value and ";" not in value:
        return [value] if value.strip() else []
    entries, start, index = [], 0, 0
    quoted, comment, angle = False, 0, False
    while index < len(value):
        char = value[index]
        if char == "\\" and (quoted or comment):
            index += 2  # an escaped character is never a separator
            continue
        if quoted:
            quoted = char != '"'
        elif comment:
            comment += {"(": 1, ")": -1}.get(char, 0)
        elif char == '"':
            quoted = True
        elif char == "(":
            comment = 1
        elif char in "<>":
            angle = char == "<"
        elif char in ",;" and not angle:
            entries.append(value[start:index])
            start = index + 1
        index += 1
    entries.append(value[start:])
    return [entry.strip() for entry in entries if entry.strip()]


def _one(value: str) -> str:
    """``value`` as the single address it must be; a list of several is refused."""
    entries = split_addresses(value)
    if len(entries) > 1:
        raise ValueError(f"{value!r} holds {len(entries)} addresses ({', '.join(entries)}); "
                         "give one address here")
    return entries[0] if entries else value


def email_address(value: str) -> str:
    """Check an address's syntax and return its normalised form.

    Deliverability (DNS) is not checked: that needs the network and belongs
    to ``test``. Internal domains (``mail.internal``) are accepted, as office
    mail servers use them; reserved names (``localhost``) are not. Several
    addresses (``a@example.org, b@example.org``) are refused, not cut to one.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected an email address as text, got {value!r}")
    check_header_text(value, "the address")
    return _validated(_one(value))


@frozen
class Address:
    """An email address with an optional display name (``Ann Lee <ann@example.org>``)."""

    email: str
    name: str = ""

    def __attrs_post_init__(self) -> None:
        # Raised as MessageError (a ValueError) so code that builds one sees the field.
        try:
            object.__setattr__(self, "email", email_address(self.email))
            check_header_text(self.name, "the display name")
        except MessageError:
            raise
        except ValueError as exc:
            raise MessageError("address", str(exc)) from None

    @classmethod
    def parse(cls, value: str | Address) -> Address:
        """Read ``ann@example.org`` or ``Ann Lee <ann@example.org>``.

        A list of several addresses is refused (``split_addresses`` cuts one up).
        """
        if isinstance(value, Address):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected an email address as text, got {value!r}")
        check_header_text(value, "the address")
        value = _one(value)
        if "," not in value and '"' not in value:
            # The common shapes, read without the full RFC 5322 parser.
            if "<" not in value:
                return cls(value.strip())
            name, _, rest = value.partition("<")
            if rest.endswith(">") and "<" not in rest and ">" not in rest[:-1]:
                return cls(rest[:-1].strip(), name.strip())
        name, addr = email.utils.parseaddr(value)
        if not addr or ("<" in value) != ("<" in value and ">" in value):
            raise ValueError(f"{value!r} is not a valid email address; write it as "
                             "ann@example.org or Ann Lee <ann@example.org>")
        return cls(addr, name)

    def __str__(self) -> str:
        return email.utils.formataddr((self.name, self.email)) if self.name else self.email


# Ofcom keeps ranges for drama and documentation (07700 900000-900999 mobile, 01632
# 960000-960999 landline): numbers of the right form that are nobody's, which examples
# and tests use; libphonenumber, rightly for real traffic, does not list them as valid,
# so they are let through by name.
FICTIONAL_RANGES = ((44, "7700900", 10), (44, "1632960", 10))


def _fictional(parsed: phonenumbers.PhoneNumber) -> bool:
    national = phonenumbers.national_significant_number(parsed)
    return any(parsed.country_code == code and national.startswith(prefix)
               and len(national) == length for code, prefix, length in FICTIONAL_RANGES)


def phone_number(value: str, region: str | None = None) -> str:
    """Normalise a phone number to E.164 (``+447700900123``), checking that it
    is a valid number (one its country hands out), not only one of the right length.

    ``region`` (ISO 3166 code, ``GB``) reads numbers written without a country
    code, as people type them locally.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected a phone number as text, got {value!r}")
    check_header_text(value, "the phone number")
    if len(numbers := split_addresses(value)) > 1:
        raise ValueError(f"{value!r} holds {len(numbers)} numbers; a text message goes to "
                         "one number: make a message for each")
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise ValueError(
                f"{value!r} has no country code; write it as +<country code><number> "
                "or set a default region (region = \"GB\") for local numbers"
            ) from None
        raise ValueError(f"{value!r} is not a phone number: {exc._msg}") from None
    country = (phonenumbers.region_code_for_number(parsed)
               or phonenumbers.region_code_for_country_code(parsed.country_code))
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{value!r} has the wrong number of digits for {country}")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not (phonenumbers.is_valid_number(parsed) or _fictional(parsed)):
        raise ValueError(f"{value!r} is not a valid number in {country} (read as {e164}): no "
                         "line or mobile number there is written like this; check the digits, "
                         "or write it in full international form, +<country code><number>")
    # A number kept with leading zeros may read back as another number; it would be
    # queued as one number and sent to a different one. Only such numbers need the check.
    if parsed.italian_leading_zero and phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.E164) != e164:
        raise ValueError(f"{value!r} does not read back as the same number ({e164}); write "
                         "it in full international form, +<country code><number>")
    return e164


def region_code(value: str) -> str:
    """Check an ISO 3166 region code that phone numbers can be read with."""
    code = value.upper() if isinstance(value, str) else value
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError('expected a two-letter region code such as "GB" or "US", '
                         f"got {value!r}")
    return code
