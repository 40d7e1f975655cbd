"""``Provider``: a provider plugin as a class, so a vendor writes only what is theirs.

Every provider's hooks begin the same way: answer ``configure`` only for its
own provider name, and every other hook only for configs of its own class.
``Provider`` does that routing once. A subclass names the provider and its
config class and writes the methods it has; the entry point names an
instance::

    class AcmeSms(Provider):
        name = "acme_sms"
        config_class = AcmeConfig

        def send(self, config, messages):
            return send_batch(config, messages)

        def test(self, config, target):
            return live_check(config, target)

    plugin = AcmeSms()

    # pyproject.toml: [project.entry-points.postroom]  acme_sms = "postroom_acme_sms:plugin"

``send`` and ``test`` must be written; ``configure`` (structure the settings
into ``config_class``, with the account's region as ``region`` when the class
has such a field), ``validate`` (no problems), ``credits`` (no balance) and
``receive`` (no webhooks) have defaults. Each method gets a config of exactly
``config_class``: a plugin built on another, with a config class derived from
the other's, gets its own calls and the other plugin none of them. Plain
``@hookimpl`` functions in a module keep working; this is a shorthand for
them, not a replacement.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar

import attrs

from postroom.hookspecs import hookimpl
from postroom.inbound import Received
from postroom.messages import Message
from postroom.results import Credits, Diagnosis, Problem, SendResult
from postroom.settings import ConfigContext, ProviderConfig
from postroom.webhooks.request import WebhookRequest


class Provider(abc.ABC):
    """Routes the six hooks to the methods of one provider; see the module docstring."""

    #: The provider name accounts choose (``provider = "acme_sms"``).
    name: ClassVar[str]
    #: The attrs class ``configure`` builds; the other hooks answer only for it.
    config_class: ClassVar[type[ProviderConfig]]

    def owns(self, config: object) -> bool:
        """Whether ``config`` is this provider's (the routing every hook does)."""
        return type(config) is self.config_class

    # What a provider writes -----------------------------------------------------

    def configure(self, settings: Mapping[str, object], context: ConfigContext) -> ProviderConfig:
        """The account's typed config: ``settings`` structured into ``config_class``.

        The account's ``region`` is a key postroom reads itself, so it is not
        in ``settings``; a config class with a ``region`` field gets it here
        (to read a sender number written without its country code).
        """
        if "region" in attrs.fields_dict(self.config_class):
            settings = {**settings, "region": context.region}
        return context.structure(settings, self.config_class)

    def validate(self, config: ProviderConfig) -> Sequence[Problem]:
        """Offline problems of ``config`` (never raise, never go online)."""
        return []

    @abc.abstractmethod
    def test(self, config: ProviderConfig, target: str | None) -> Diagnosis:
        """The live check, as ``postroom_test`` describes it."""

    @abc.abstractmethod
    def send(self, config: ProviderConfig,
             messages: Sequence[Message]) -> Iterator[SendResult | Sequence[SendResult]]:
        """Send the batch, yielding each result as it is known, as ``postroom_send``
        describes it; this method may itself be a generator function (the hook
        that routes to it is not)."""

    def credits(self, config: ProviderConfig) -> Credits | None:
        """The balance, or None for a provider without credit."""
        return None

    def receive(self, config: ProviderConfig, request: WebhookRequest) -> Received | None:
        """Read one webhook call, as ``postroom_receive`` describes it; None: no webhooks."""
        return None

    # The hooks: routing only -------------------------------------------------------

    @hookimpl
    def postroom_configure(self, provider: str, settings: Mapping[str, object],
                           context: ConfigContext) -> ProviderConfig | None:
        return self.configure(settings, context) if provider == self.name else None

    @hookimpl
    def postroom_validate(self, config: ProviderConfig) -> Sequence[Problem] | None:
        return self.validate(config) if self.owns(config) else None

    @hookimpl
    def postroom_test(self, config: ProviderConfig, target: str | None) -> Diagnosis | None:
        return self.test(config, target) if self.owns(config) else None

    @hookimpl
    def postroom_send(self, config: ProviderConfig, messages: Sequence[Message]
                      ) -> Iterator[SendResult | Sequence[SendResult]] | None:
        return self.send(config, messages) if self.owns(config) else None

    @hookimpl
    def postroom_credits(self, config: ProviderConfig) -> Credits | None:
        return self.credits(config) if self.owns(config) else None

    @hookimpl
    def postroom_receive(self, config: ProviderConfig,
                         request: WebhookRequest) -> Received | None:
        return self.receive(config, request) if self.owns(config) else None


__all__ = ["Provider"]
