"""The contract kit: a test class that checks a provider plugin honours the hook contract.

A plugin's tests subclass ``ProviderContract``, name the provider, and give
fixtures that aim it at a local server; pytest then runs every check here
against the installed plugin::

    from postroom.testing import ProviderContract

    class TestAcmeContract(ProviderContract):
        provider = "acme_sms"

        @pytest.fixture
        def settings(self, acme_server):          # settings that work
            return {"base_url": acme_server.url, "api_key": "k", "api_secret": "s3cret"}

        @pytest.fixture
        def recipient(self):                      # an address or E.164 number it accepts
            return "+447700900123"

        @pytest.fixture
        def secrets(self):                        # every secret value in the settings
            return ["s3cret"]

Optional fixtures: ``rejected_recipient`` (one the provider refuses for good),
``unreachable_settings`` (settings aimed where nothing answers) and
``expect_credits`` (True if the provider reports a balance). Each check whose
fixture is not given is skipped. Needs pytest.

``postroom_send`` is checked as the engine uses it: an iterator whose results
come one per message (or a list per request carrying several), in order,
and which can be closed after any result.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from postroom.dispatch import each_result
from postroom.errors import ConfigError
from postroom.messages import EmailMessage, Message, SmsMessage
from postroom.plugins import PluginRegistry
from postroom.results import Credits, Diagnosis, Outcome, Problem, SendResult
from postroom.settings import ConfigContext, ProviderConfig

HOOKS = ("postroom_configure", "postroom_validate", "postroom_test", "postroom_send",
         "postroom_credits")
NOBODYS_PROVIDER = "no-such-provider-for-the-contract-kit"


class _ForeignConfig(ProviderConfig):
    """A config no plugin owns: every hook but validate must answer it with None."""

    provider = NOBODYS_PROVIDER
    channel = "email"


def leaked(secrets: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The secrets that appear in any of ``texts`` (empty when none leaked)."""
    texts = list(texts)
    return [s for s in secrets if s and any(s in text for text in texts)]


class ProviderContract:
    """Checks one provider against the hook contract; subclass it in your tests."""

    provider: str = ""

    # Fixtures a subclass gives -------------------------------------------------

    @pytest.fixture
    def settings(self) -> Mapping[str, object]:
        raise NotImplementedError("give a settings fixture: settings that work")

    @pytest.fixture
    def recipient(self) -> str:
        raise NotImplementedError("give a recipient fixture: an address or number it accepts")

    @pytest.fixture
    def secrets(self) -> list[str]:
        return []

    @pytest.fixture
    def rejected_recipient(self) -> str | None:
        return None

    @pytest.fixture
    def unreachable_settings(self) -> Mapping[str, object] | None:
        return None

    @pytest.fixture
    def expect_credits(self) -> bool | None:
        return None

    # What the checks stand on ---------------------------------------------------

    @pytest.fixture
    def registry(self) -> PluginRegistry:
        registry = PluginRegistry()
        if self.provider not in registry.providers():
            reason = registry.why_unavailable(self.provider) or "no plugin claims it"
            pytest.fail(f"provider {self.provider!r} is not installed: {reason}")
        return registry

    @pytest.fixture
    def hooks(self, registry):
        """Hook callers limited to this provider's plugin."""
        name = registry.providers()[self.provider].name
        mine = registry.pm.get_plugin(name)
        others = [p for p in registry.pm.get_plugins() if p is not mine]
        return {hook: registry.pm.subset_hook_caller(hook, others) for hook in HOOKS}

    @pytest.fixture
    def context(self, tmp_path: Path) -> ConfigContext:
        return ConfigContext(account="contract", base_dir=tmp_path, region="GB")

    @pytest.fixture
    def config(self, hooks, settings, context) -> ProviderConfig:
        return hooks["postroom_configure"](provider=self.provider, settings=dict(settings),
                                           context=context)

    def send(self, hooks, config: ProviderConfig, batch: list[Message]) -> list[SendResult]:
        """Every result of one ``postroom_send`` call, taken one at a time."""
        return list(each_result(hooks["postroom_send"](config=config, messages=batch)))

    def messages(self, config: ProviderConfig, to: str, count: int) -> list[Message]:
        if config.channel == "sms":
            return [SmsMessage(to=to, text=f"contract check {i}", region="GB")
                    for i in range(count)]
        return [EmailMessage(to=to, subject=f"contract check {i}", text="Checking the contract.")
                for i in range(count)]

    # The checks ----------------------------------------------------------------

    def test_entry_point_is_registered(self, registry):
        info = registry.providers()[self.provider]
        assert info.status == "loaded"
        assert "postroom_configure" in info.hooks and "postroom_send" in info.hooks

    def test_configure_answers_for_its_own_name_only(self, hooks, settings, context, config):
        assert isinstance(config, ProviderConfig)
        assert config.provider == self.provider
        assert config.channel in ("email", "sms")
        other = hooks["postroom_configure"](provider=NOBODYS_PROVIDER, settings=dict(settings),
                                            context=context)
        assert other is None

    def test_configure_names_an_unknown_setting(self, hooks, settings, context):
        with pytest.raises(ConfigError) as caught:
            hooks["postroom_configure"](provider=self.provider,
                                        settings={**settings, "no_such_setting": 1},
                                        context=context)
        assert any(path == "no_such_setting" for path, _ in caught.value.issues)

    def test_hooks_leave_other_providers_configs_alone(self, hooks):
        foreign = _ForeignConfig()
        assert hooks["postroom_test"](config=foreign, target=None) is None
        assert hooks["postroom_send"](config=foreign, messages=[]) is None
        assert hooks["postroom_credits"](config=foreign) is None

    def test_validate_returns_problems_and_does_not_raise(self, hooks, config):
        answers = hooks["postroom_validate"](config=config)
        problems = [p for answer in answers for p in answer or ()]
        assert all(isinstance(p, Problem) for p in problems)
        assert not [p for p in problems if p.severity == "error"], problems

    def test_send_streams_one_result_per_message_in_order(self, hooks, config, recipient):
        batch = self.messages(config, recipient, 3)
        answer = hooks["postroom_send"](config=config, messages=batch)
        assert not isinstance(answer, list | tuple), (
            "postroom_send returned a list: return an iterator (a generator object) that "
            "yields each result as it is known")
        assert iter(answer) is answer, "postroom_send must return an iterator"
        results = []
        for item in answer:  # taken one at a time, as the engine does
            results.extend(item if isinstance(item, list | tuple) else [item])
            assert [r.message_id for r in results] == [m.id for m in batch][:len(results)]
        assert all(isinstance(r, SendResult) for r in results)
        assert [r.message_id for r in results] == [m.id for m in batch]
        assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3, results

    def test_send_can_be_stopped_after_a_result(self, hooks, config, recipient):
        batch = self.messages(config, recipient, 3)
        answer = hooks["postroom_send"](config=config, messages=batch)
        first = next(answer)
        first = first[0] if isinstance(first, list | tuple) else first
        assert first.message_id == batch[0].id and first.ok, first
        answer.close()  # as the engine does when it stops: cleans up, raises nothing
        (again,) = self.send(hooks, config, self.messages(config, recipient, 1))
        assert again.ok, again

    def test_a_refused_recipient_fails_permanently(self, hooks, config, recipient,
                                                   rejected_recipient):
        if rejected_recipient is None:
            pytest.skip("no rejected_recipient fixture")
        batch = self.messages(config, rejected_recipient, 1) + self.messages(config, recipient, 1)
        results = self.send(hooks, config, batch)
        assert [r.outcome for r in results] == [Outcome.PERMANENT, Outcome.ACCEPTED], results
        assert results[0].text

    def test_an_unreachable_provider_fails_transiently(self, hooks, context, recipient,
                                                       unreachable_settings):
        if unreachable_settings is None:
            pytest.skip("no unreachable_settings fixture")
        config = hooks["postroom_configure"](provider=self.provider,
                                             settings=dict(unreachable_settings), context=context)
        batch = self.messages(config, recipient, 2)
        results = self.send(hooks, config, batch)
        assert [r.message_id for r in results] == [m.id for m in batch]
        # unreachable pauses the account as a whole; transient is the older answer.
        assert {r.outcome for r in results} <= {Outcome.UNREACHABLE, Outcome.TRANSIENT}, results
        diagnosis = hooks["postroom_test"](config=config, target=None)
        assert isinstance(diagnosis, Diagnosis)
        assert not diagnosis.ok
        assert diagnosis.stage and diagnosis.category and diagnosis.hint

    def test_test_returns_a_diagnosis(self, hooks, config, recipient):
        diagnosis = hooks["postroom_test"](config=config, target=None)
        assert isinstance(diagnosis, Diagnosis)
        assert diagnosis.ok, diagnosis
        sent = hooks["postroom_test"](config=config, target=recipient)
        assert isinstance(sent, Diagnosis)
        assert sent.ok, sent

    def test_credits_are_a_balance_or_none(self, hooks, config, expect_credits):
        answer = hooks["postroom_credits"](config=config)
        assert answer is None or isinstance(answer, Credits)
        if expect_credits is not None:
            assert (answer is not None) == expect_credits

    def test_no_secret_leaks(self, hooks, config, settings, context, recipient,
                             rejected_recipient, unreachable_settings, secrets, caplog):
        caplog.set_level(logging.DEBUG)
        seen = [repr(config), str(config)]
        seen += map(repr, self.send(hooks, config, self.messages(config, recipient, 1)))
        seen.append(repr(hooks["postroom_test"](config=config, target=recipient)))
        seen.append(repr(hooks["postroom_credits"](config=config)))
        seen += map(repr, hooks["postroom_validate"](config=config))
        if rejected_recipient is not None:
            seen += map(repr, self.send(hooks, config,
                                        self.messages(config, rejected_recipient, 1)))
        if unreachable_settings is not None:
            broken = hooks["postroom_configure"](provider=self.provider,
                                                 settings=dict(unreachable_settings),
                                                 context=context)
            seen += map(repr, self.send(hooks, broken, self.messages(broken, recipient, 1)))
            seen.append(repr(hooks["postroom_test"](config=broken, target=None)))
        try:
            hooks["postroom_configure"](provider=self.provider,
                                        settings={**settings, "no_such_setting": 1},
                                        context=context)
        except ConfigError as exc:
            seen.append(str(exc))
        seen.append(caplog.text)
        assert leaked(secrets, seen) == []
