"""``Templates``: the template folder an engine renders messages from."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from postroom.messages import Channel
from postroom.results import Problem
from postroom.templating.checks import check_channel, folder_problems
from postroom.templating.filters import template_filters, time_zone
from postroom.templating.folder import TemplateFolder, check_name
from postroom.templating.preview import Preview, sms_facts, sms_warnings
from postroom.templating.recipients import Recipient, shared_values, template_values
from postroom.templating.render import Plan, Rendered
from postroom.templating.sandbox import make_environment
from postroom.templating.settings import TemplateSettings

RecipientLike = Recipient | str | Mapping[str, object]

CHANNELS: tuple[Channel, ...] = ("email", "sms")


class Templates:
    """Renders the templates of one folder; make one and keep it.

    The sandboxed environment is built once and caches compiled templates,
    so rendering thousands of messages compiles each file once. ``region``
    reads phone numbers written without a country code (``phone`` filter).
    """

    def __init__(self, settings: TemplateSettings, *, region: str | None = None,
                 on_render: Callable[[Rendered], None] | None = None) -> None:
        self.settings = settings
        self.on_render = on_render  # test mode records what was rendered
        self.folder = TemplateFolder(settings.directory)
        self.environment = make_environment(
            self.folder.directory, template_filters(time_zone(settings.timezone), region),
            settings.max_render_seconds)

    def names(self) -> list[str]:
        """The templates in the folder."""
        return self.folder.names()

    def render_many(self, template: str, channel: Channel, recipients: Iterable[RecipientLike],
                    context: Mapping[str, object] | None = None, *,
                    signature: bool = True) -> list[Rendered]:
        """Render ``template`` for each recipient: the shared ``context``, their values over it.

        Each recipient gets the version for their locale (``fr`` → the
        ``reminder.fr`` folder, else ``reminder``). Email gets the
        organisation's signature unless ``signature`` is False. Raises
        ``TemplateError`` (what, which file, which line) or ``MessageError``
        (a bad recipient or context value) before anything is sent.
        """
        shared = shared_values(context)
        plans: dict[str | None, Plan] = {}
        rendered = []
        for item in recipients:
            recipient = Recipient.of(item)
            plan = plans.get(recipient.locale)
            if plan is None:
                plan = plans[recipient.locale] = Plan.make(
                    self.folder, template, channel, recipient.locale, signature)
            values = template_values(shared, recipient)
            rendered.append(plan.render(self.environment, self.folder.directory, values,
                                        recipient))
        if self.on_render is not None:
            for item in rendered:
                self.on_render(item)
        return rendered

    def render(self, template: str, channel: Channel,
               context: Mapping[str, object] | None = None, *,
               recipient: RecipientLike | None = None, signature: bool = True) -> Rendered:
        """Render ``template`` once; see ``render_many``."""
        chosen = Recipient() if recipient is None else recipient
        return self.render_many(template, channel, [chosen], context, signature=signature)[0]

    def check(self, template: str, channel: Channel) -> list[Problem]:
        """Whether ``template`` has the parts to be sent by ``channel`` (empty when it does)."""
        return check_channel(self.folder, template, channel)

    def problems(self) -> list[Problem]:
        """Every problem ``validate`` should report about the templates."""
        return folder_problems(self.folder, self.environment, self.settings.channels)

    def preview(self, template: str, channels: Sequence[Channel] | None = None,
                context: Mapping[str, object] | None = None, *,
                recipient: RecipientLike | None = None, signature: bool = True,
                price_per_segment: Decimal | None = None) -> Preview:
        """Render every part as it would be sent, with the SMS's encoding, segments and cost.

        ``channels`` defaults to those the template can be sent by; naming a
        channel it lacks raises ``TemplateError``. ``price_per_segment`` (the
        account's) gives a cost estimate.
        """
        chosen = Recipient() if recipient is None else Recipient.of(recipient)
        if channels is None:
            base = self.folder.variant(check_name(template), None)
            # A template that serves neither still goes through render, whose error says why.
            channels = [c for c in CHANNELS if base and base.serves(c)] or ["email"]
        email = sms = facts = None
        warnings: list[str] = []
        for channel in channels:
            rendered = self.render(template, channel, context, recipient=chosen,
                                   signature=signature)
            if channel == "sms":
                sms, facts = rendered, sms_facts(rendered.text or "", price_per_segment)
                warnings += sms_warnings(facts, self.settings.max_sms_segments)
            else:
                email = rendered
        return Preview(template, chosen, email, sms, facts, tuple(warnings))
