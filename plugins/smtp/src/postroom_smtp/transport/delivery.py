"""The server's answer to one message: its replies, and who it refused."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen


@frozen
class Reply:
    """One SMTP reply: ``550`` and ``5.1.1 no such user``."""

    code: int
    text: str

    @classmethod
    def of(cls, code: int, text: bytes | str) -> Reply:
        """From smtplib's ``(code, bytes)`` pair."""
        return cls(code, text.decode("utf-8", "replace") if isinstance(text, bytes) else text)

    @property
    def transient(self) -> bool:
        """A 4xx reply, or none a client can read: may work later."""
        return not 500 <= self.code < 600

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


@frozen
class Delivery:
    """How the server answered one message in a session.

    ``accepted`` when the final DATA reply was 250. Otherwise ``command``
    (``MAIL``, ``RCPT``, ``DATA``) is the step it refused and ``reply`` why.
    ``refused`` lists recipients refused at RCPT, with their replies, also
    when the message went to the others.
    """

    accepted: bool
    command: str
    reply: Reply
    refused: Mapping[str, Reply] = field(factory=dict)
