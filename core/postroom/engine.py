"""``Engine``: the one object an application talks to.

::

    engine = Engine.from_file("postroom.toml")
    engine.send("office", to="ann@example.org", subject="Reminder", text="See you at 9.")
    engine.send("texts", to="07700 900123", text="See you at 9.")
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from postroom.config import Account, Config, find_config_file, load_config, read_config_file
from postroom.errors import ConfigError, MessageError, PluginError
from postroom.messages import EmailMessage, Message, SmsMessage
from postroom.plugins import PluginRegistry
from postroom.results import Credits, Diagnosis, Problem, SendResult


class Engine:
    """Sends messages through configured accounts and the plugins that serve them."""

    def __init__(self, config: Config, registry: PluginRegistry) -> None:
        self.config = config
        self.registry = registry

    @classmethod
    def from_file(cls, path: str | os.PathLike | None = None, *,
                  registry: PluginRegistry | None = None,
                  environ: Mapping[str, str] | None = None) -> Engine:
        """Load ``path``, or ``$POSTROOM_CONFIG``, or ``./postroom.toml``."""
        found = find_config_file(path, environ)
        registry = registry or PluginRegistry(environ=environ)
        config = load_config(read_config_file(found), registry, path=found, environ=environ)
        return cls(config, registry)

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, base_dir: str | os.PathLike | None = None,
                  registry: PluginRegistry | None = None,
                  environ: Mapping[str, str] | None = None) -> Engine:
        """Configure from a dict shaped like ``postroom.toml``."""
        registry = registry or PluginRegistry(environ=environ)
        base = Path(base_dir) if base_dir is not None else None
        return cls(load_config(data, registry, base_dir=base, environ=environ), registry)

    def account(self, name: str) -> Account:
        """The account called ``name``; the error lists the ones there are."""
        try:
            return self.config.accounts[name]
        except KeyError:
            known = ", ".join(self.config.accounts) or "(none configured)"
            raise ConfigError([("accounts", f"no account named {name!r}; "
                                            f"configured accounts: {known}")]) from None

    def validate(self) -> list[tuple[str, Problem]]:
        """Offline checks of every account: ``(account name, problem)`` pairs."""
        found = []
        for name, account in self.config.accounts.items():
            answers = self.registry.hook.postroom_validate(config=account.config)
            found.extend((name, problem) for answer in answers for problem in answer or ())
        return found

    def test(self, account: str, target: str | None = None) -> Diagnosis:
        """Check live that ``account`` works; with ``target``, send it a test message."""
        chosen = self.account(account)
        if target and chosen.channel == "sms":
            target = SmsMessage(to=target, text=".", region=chosen.region).to
        diagnosis = self.registry.hook.postroom_test(config=chosen.config, target=target)
        return self._answered("postroom_test", chosen, diagnosis, Diagnosis)

    def credits(self, account: str) -> Credits | None:
        """The account's balance, or None for providers that have no credit."""
        chosen = self.account(account)
        return self.registry.hook.postroom_credits(config=chosen.config)

    def message(self, account: str, **fields: object) -> Message:
        """Make the right kind of message for ``account`` from keyword fields."""
        chosen = self.account(account)
        if chosen.channel == "sms":
            fields.setdefault("region", chosen.region)
            return SmsMessage(**fields)
        return EmailMessage(**fields)

    def send(self, account: str, *messages: Message, **fields: object) -> list[SendResult]:
        """Send messages through ``account`` now, one batch, and return a result each.

        Pass message objects, or the fields of one message as keywords
        (``to=..., subject=..., text=...``).
        """
        chosen = self.account(account)
        batch = list(messages) + ([self.message(account, **fields)] if fields else [])
        if not batch:
            raise MessageError("messages", "nothing to send: pass messages or message fields")
        for message in batch:
            if message.channel != chosen.channel:
                raise MessageError("messages", f"account {account!r} sends {chosen.channel}, "
                                               f"not {message.channel}; choose an "
                                               f"{message.channel} account")
        results = self.registry.hook.postroom_send(config=chosen.config, messages=batch)
        results = self._answered("postroom_send", chosen, results, list)
        if [r.message_id for r in results] != [m.id for m in batch]:
            raise PluginError(f"the {chosen.provider} plugin answered postroom_send with "
                              f"{len(results)} results for {len(batch)} messages, or out of order")
        return results

    def _answered(self, hook: str, account: Account, answer, kind):
        if answer is None:
            raise PluginError(f"no plugin answered {hook} for account {account.name!r} "
                              f"(provider {account.provider!r})")
        if not isinstance(answer, kind) and not (kind is list and isinstance(answer, Sequence)):
            raise PluginError(f"the {account.provider} plugin answered {hook} with "
                              f"{type(answer).__name__}, expected {kind.__name__}")
        return list(answer) if kind is list else answer


__all__ = ["Engine"]
