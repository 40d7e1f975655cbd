"""Messages to JSON text and back, as the outbox keeps them."""

from __future__ import annotations

import base64
import json

import attrs

from postroom.addresses import Address
from postroom.messages import (
    Alternative,
    Attachment,
    EmailMessage,
    InlineImage,
    Message,
    SmsMessage,
)


def _pairs(addresses: tuple[Address, ...]) -> list[list[str]]:
    return [[a.name, a.email] for a in addresses]


def _restore(cls, **values):
    """Rebuild an object that was checked when it was queued, without checking it again.

    A worker reloads every message it sends, and the address and number checks
    cost more than the send itself; the outbox only ever holds what passed them.
    """
    restored = object.__new__(cls)
    for field in attrs.fields(cls):
        object.__setattr__(restored, field.name, values[field.name])
    return restored


def _addresses(pairs: list[list[str]]) -> tuple[Address, ...]:
    return tuple(_restore(Address, email=email, name=name) for name, email in pairs)


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def _alternative(content_type: str, text: str | None, data: str | None) -> Alternative:
    return _restore(Alternative, content=text if data is None else base64.b64decode(data),
                    content_type=content_type)


def dump(message: Message) -> str:
    """The message as JSON text; attachments are base64."""
    if isinstance(message, SmsMessage):
        data = {"channel": "sms", "id": message.id, "to": message.to, "text": message.text,
                "sender": message.sender}
    else:
        data = {
            "channel": "email", "id": message.id, "subject": message.subject,
            "text": message.text, "html": message.html, "to": _pairs(message.to),
            "cc": _pairs(message.cc), "bcc": _pairs(message.bcc),
            "reply_to": _pairs(message.reply_to),
            "sender": _pairs((message.sender,)) if message.sender else None,
            "headers": dict(message.headers), "envelope": list(message.envelope),
            "attachments": [[a.filename, a.content_type, _b64(a.content)]
                            for a in message.attachments],
        }
        # Written only when used, so the common message stays as short as before.
        if message.inline:
            data["inline"] = [[i.content_id, i.content_type, i.filename, _b64(i.content)]
                              for i in message.inline]
        if message.alternatives:
            data["alternatives"] = [
                [a.content_type, a.content, None] if isinstance(a.content, str)
                else [a.content_type, None, _b64(a.content)] for a in message.alternatives]
        if message.message_id:
            data["message_id"] = message.message_id
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def load(text: str) -> Message:
    """Rebuild a message from ``dump``'s text."""
    data = json.loads(text)
    if data["channel"] == "sms":
        return _restore(SmsMessage, id=data["id"], to=data["to"], text=data["text"],
                        sender=data["sender"], region=None)
    return _restore(
        EmailMessage, id=data["id"], subject=data["subject"], text=data["text"],
        html=data["html"], to=_addresses(data["to"]), cc=_addresses(data["cc"]),
        bcc=_addresses(data["bcc"]), reply_to=_addresses(data["reply_to"]),
        sender=_addresses(data["sender"])[0] if data["sender"] else None,
        headers=data["headers"], envelope=tuple(data.get("envelope", ())),
        attachments=tuple(_restore(Attachment, filename=name, content=base64.b64decode(content),
                                   content_type=kind)
                          for name, kind, content in data["attachments"]),
        inline=tuple(_restore(InlineImage, content_id=cid, content_type=kind, filename=name,
                              content=base64.b64decode(content))
                     for cid, kind, name, content in data.get("inline", ())),
        alternatives=tuple(_alternative(*row) for row in data.get("alternatives", ())),
        message_id=data.get("message_id"),
    )
