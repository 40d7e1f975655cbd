"""Rendering one template version for one recipient, and the signature.

Each part is tidied the same way for sending and for previews: surrounding
blank space is dropped, and the subject is made one line (line breaks and
runs of spaces become one space, so a value with a line break cannot add an
email header).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from attrs import field, frozen
from jinja2 import Template

from postroom.addresses import Address
from postroom.errors import MessageError
from postroom.messages import Alternative, Channel, EmailMessage, InlineImage, Message, SmsMessage
from postroom.templating.errors import TemplateError, explain
from postroom.templating.folder import IMAGES, SIGNATURE, Part, TemplateFolder, Variant
from postroom.templating.recipients import Recipient
from postroom.templating.sandbox import Sandbox, render_capped

SIGNATURE_SEPARATOR = "\n\n-- \n"
"""Between a text body and its signature: the "dash dash space" line mail readers know."""


@frozen
class Rendered:
    """A template rendered for one recipient and channel, ready to become a message.

    ``template`` is the template's name, ``locale`` the version used (None
    for the base one). Email fills ``subject`` and ``text`` and/or ``html``;
    SMS fills ``text``.
    """

    template: str
    channel: Channel
    locale: str | None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    recipient: Recipient | None = None
    inline: tuple[InlineImage, ...] = ()
    alternatives: tuple[Alternative, ...] = ()

    def to_message(self, **fields: object) -> Message:
        """The ``EmailMessage`` or ``SmsMessage`` to send.

        It goes to the recipient unless ``to`` is given; other ``fields`` are
        passed on (``cc``, ``attachments``, ``sender``; ``region`` for SMS).
        """
        to = fields.pop("to", None)
        if to is None and self.recipient is not None and self.recipient.to is not None:
            to = self.recipient.to
            if self.channel == "email" and self.recipient.name:
                address = Address.parse(to)
                to = address if address.name else Address(address.email, self.recipient.name)
        if to is None:
            raise MessageError("to", f"the {self.template} message has no recipient; "
                                     "give the recipient's address or number")
        if self.channel == "sms":
            return SmsMessage(to=to, text=self.text, **fields)
        return EmailMessage(to=to, subject=self.subject, text=self.text, html=self.html,
                            inline=self.inline, alternatives=self.alternatives, **fields)


def sign(text: str | None, html: str | None, signature_text: str | None,
         signature_html: str | None) -> tuple[str | None, str | None]:
    """Append the signature: text under a ``-- `` line, html before ``</body>`` (or at the end).

    A body the email lacks gets no signature; a signature the organisation
    lacks for a body is simply not added.
    """
    if text is not None and signature_text:
        text = text + SIGNATURE_SEPARATOR + signature_text
    if html is not None and signature_html:
        end = html.lower().rfind("</body>")
        html = (html + "\n" + signature_html if end < 0
                else html[:end] + signature_html + "\n" + html[end:])
    return text, html


CID = re.compile(r"""cid:([^"'\s)>]+)""")


def cid_references(html: str) -> list[str]:
    """The Content-IDs an html part shows (``src="cid:logo.png"``), each once, in order."""
    return list(dict.fromkeys(CID.findall(html)))


def inline_images(html: str | None, directory: Path, template: str) -> tuple[InlineImage, ...]:
    """The images of ``_images/`` the html shows through ``cid:`` links."""
    found = []
    for name in cid_references(html or ""):
        path = directory / IMAGES / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise TemplateError(template, f"the html shows cid:{name}, and there is no "
                                          f"{IMAGES}/{name}: put the image there", part="html")
        found.append(InlineImage.from_path(path, content_id=name))
    return tuple(found)


def render_file(env: Sandbox, directory: Path, part: Part, file: str,
                values: Mapping[str, object], loaded: dict[str, Template] | None = None) -> str:
    """Render one part's file; any failure becomes a ``TemplateError`` naming folder, part, line.

    ``loaded`` keeps the templates a bulk render has loaded: the environment
    would otherwise check each file's time on disk for every recipient."""
    try:
        template = None if loaded is None else loaded.get(file)
        if template is None:
            template = env.get_template(file)
            if loaded is not None:
                loaded[file] = template
        return render_capped(template, values).strip()
    except Exception as exc:
        # A template can fail in any way Python code can; all of it is the template's to fix.
        raise explain(exc, file.split("/", 1)[0], part, file, directory) from exc


@frozen
class Plan:
    """What to render for one template, channel and locale: worked out once per send.

    ``signature`` maps the email parts to the signature file that serves
    them (the signature has locale versions too); empty when opted out.
    """

    variant: Variant
    channel: Channel
    signature: dict[Part, str]
    loaded: dict[str, Template] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def make(cls, folder: TemplateFolder, template: str, channel: Channel,
             locale: str | None, with_signature: bool) -> Plan:
        variant = folder.resolve(template, locale, channel)
        signature: dict[Part, str] = {}
        if channel == "email" and with_signature:
            for part in ("text", "html"):
                file = folder.find(SIGNATURE, locale, part)
                if file is not None:
                    signature[part] = file
        return cls(variant, channel, signature)

    def render(self, env: Sandbox, directory: Path, values: Mapping[str, object],
               recipient: Recipient | None) -> Rendered:
        variant = self.variant

        def part(name: Part) -> str | None:
            if name not in variant.parts:
                return None
            return render_file(env, directory, name, variant.file(name), values, self.loaded)

        def signature(name: Part) -> str | None:
            file = self.signature.get(name)
            return None if file is None else render_file(env, directory, name, file, values,
                                                         self.loaded)

        if self.channel == "sms":
            return Rendered(variant.template, "sms", variant.locale, text=part("sms"),
                            recipient=recipient)
        subject = " ".join((part("subject") or "").split())
        text, html = sign(part("text"), part("html"), signature("text"), signature("html"))
        calendar = part("calendar")
        try:
            invitation = (Alternative.calendar(calendar),) if calendar else ()
        except MessageError as exc:
            raise TemplateError(variant.folder, exc.message, part="calendar") from None
        return Rendered(variant.template, "email", variant.locale, subject=subject, text=text,
                        html=html, recipient=recipient,
                        inline=inline_images(html, directory, variant.folder),
                        alternatives=invitation)
