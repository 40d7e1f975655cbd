"""Plugin discovery and the six hooks, through the registry and the engine."""

from __future__ import annotations

import ast
import inspect
import warnings
from decimal import Decimal
from pathlib import Path

import pytest

import postroom
from postroom import ConfigError, EmailMessage, Engine, Outcome, hookspecs
from postroom.plugins import PluginInfo, PluginRegistry
from postroom.webhooks import WebhookRequest

ROOT = Path(__file__).resolve().parent.parent
HOOKS = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
         if name.startswith("postroom_")]


def drive_all_six_hooks(engine: Engine, echo) -> None:
    """Configure happened in the engine; now validate, test, send, credits and receive."""
    assert engine.validate() == []
    assert engine.test("desk").ok
    message = engine.message("desk", to="ann@example.org", subject="Hi", text="Hello")
    results = engine.deliver("desk", [message])
    assert results[0].outcome is Outcome.ACCEPTED
    assert echo.SENT[-1].subject == "Hi"
    assert engine.credits("desk").balance == Decimal("10.0")
    call = WebhookRequest(method="POST", query={"token": "right"},
                          headers={"Content-Type": "application/json"},
                          body=b'{"replies": [{"from": "ann@example.org", "text": "Thanks"}]}')
    answer = engine.receive("desk", call)
    assert (answer.status, [a.kind for a in answer.arrivals]) == (200, ["reply"])


def test_builtin_providers_are_always_there():
    providers = PluginRegistry(entry_points=False, environ={}).providers()
    assert list(providers) == ["email_file", "sms_file"]
    assert all(info.builtin and info.distribution == "postroom" for info in providers.values())


def test_plugin_registered_in_code_is_driven_through_all_six_hooks(registry, echo,
                                                                    echo_settings):
    engine = Engine.from_dict({"accounts": {"desk": echo_settings}}, registry=registry,
                              environ={"ECHO_SECRET": "right"})
    assert isinstance(engine.account("desk").config, echo.EchoConfig)
    drive_all_six_hooks(engine, echo)


def test_entry_point_plugin_is_discovered_and_driven(installed, echo, echo_settings):
    installed("postroom-echo", {"echo": "postroom_echo"})
    registry = PluginRegistry(environ={})
    info = registry.providers()["echo"]
    assert (info.distribution, info.version, info.status) == ("postroom-echo", "1.0", "loaded")
    assert info.hooks == sorted(HOOKS)
    engine = Engine.from_dict({"accounts": {"desk": echo_settings}}, registry=registry,
                              environ={"ECHO_SECRET": "right"})
    drive_all_six_hooks(engine, echo)


def test_a_broken_plugin_is_listed_with_its_error_and_the_others_still_load(installed):
    installed("postroom-echo", {"echo": "postroom_echo"})
    installed("acme-sms", {"acme": "acme_sms_broken"},
              modules={"acme_sms_broken": "import no_such_module_for_postroom\n"})
    registry = PluginRegistry(environ={})
    assert "echo" in registry.providers()
    assert "acme" not in registry.providers()
    (broken,) = [i for i in registry.plugins() if i.distribution == "acme-sms"]
    assert broken.status == "broken"
    assert "ModuleNotFoundError" in broken.error and "no_such_module_for_postroom" in broken.error
    with pytest.raises(ConfigError, match=r"accounts\.x\.provider: .*'acme'.*acme-sms: broken"):
        Engine.from_dict({"accounts": {"x": {"provider": "acme"}}}, registry=registry,
                         strict=True)


def acme_plugin(installed, module: str, send_hook: str) -> tuple[PluginRegistry, PluginInfo]:
    """Install ``acme-sms`` whose ``module`` (a name of its own: modules are imported
    once) holds ``send_hook``; the registry and the plugin's row."""
    code = f"import postroom\n@postroom.hookimpl\n{send_hook}"
    installed("acme-sms", {"acme": module}, modules={module: code})
    registry = PluginRegistry(environ={})
    (info,) = [i for i in registry.plugins() if i.distribution == "acme-sms"]
    return registry, info


def test_a_plugin_whose_hooks_do_not_match_the_spec_is_broken_not_fatal(installed):
    _, info = acme_plugin(installed, "acme_sms_wrong",
                          "def postroom_send(config, messages, no_such_argument):\n"
                          "    return None\n")
    assert info.status == "broken"
    assert "no_such_argument" in info.error


def test_two_plugins_claiming_one_provider_are_both_refused(installed, echo_settings):
    installed("postroom-echo", {"echo": "postroom_echo"})
    installed("echo-clone", {"echo": "postroom_echo"}, version="2.0")
    registry = PluginRegistry(environ={})
    assert "echo" not in registry.providers()
    rows = [i for i in registry.plugins() if "echo" in i.providers]
    assert {r.status for r in rows} == {"conflict"}
    assert "postroom-echo 1.0" in rows[0].error and "echo-clone 2.0" in rows[0].error
    with pytest.raises(ConfigError, match="claimed by 2 plugins"):
        Engine.from_dict({"accounts": {"desk": echo_settings}}, registry=registry,
                         environ={"ECHO_SECRET": "right"}, strict=True)


def test_a_plugin_cannot_take_over_a_builtin_provider_name(installed):
    installed("sneaky", {"email_file": "postroom_echo"})
    registry = PluginRegistry(environ={})
    assert registry.providers()["email_file"].builtin
    (row,) = [i for i in registry.plugins() if i.distribution == "sneaky"]
    assert row.status == "conflict"
    assert "already served by postroom" in row.error


@pytest.mark.parametrize("name", ["echo", "postroom-echo", "postroom_echo"])
def test_an_environment_variable_disables_a_plugin(installed, name):
    installed("postroom-echo", {"echo": "postroom_echo"})
    registry = PluginRegistry(environ={"POSTROOM_DISABLE_PLUGINS": f"other, {name}"})
    assert "echo" not in registry.providers()
    (row,) = [i for i in registry.plugins() if i.distribution == "postroom-echo"]
    assert row.status == "disabled"


def test_configure_is_answered_only_by_the_named_providers_plugin(registry, echo_settings):
    engine = Engine.from_dict({"accounts": {
        "desk": echo_settings,
        "files": {"provider": "email_file", "directory": "out"}}},
        registry=registry, environ={"ECHO_SECRET": "x"}, base_dir="/srv")
    assert engine.account("desk").config.provider == "echo"
    assert engine.account("files").config.directory == Path("/srv/out")


def test_validate_joins_the_answers_of_every_plugin(registry, echo_settings, echo):
    class CrossCheck:
        @postroom.hookimpl
        def postroom_validate(self, config):
            return [postroom.Problem.error("sender", "cross-provider rule")]

    registry.register(CrossCheck(), [], name="cross")
    engine = Engine.from_dict({"accounts": {"desk": {**echo_settings, "mode": "sandbox"}}},
                              registry=registry, environ={"ECHO_SECRET": "x"})
    messages = sorted(p.message for _, p in engine.validate())
    assert messages == ["cross-provider rule", "sandbox mode sends nothing"]


def test_send_reports_each_outcome_class(registry, echo_settings, echo):
    engine = Engine.from_dict({"accounts": {"desk": echo_settings}}, registry=registry,
                              environ={"ECHO_SECRET": "x"})
    batch = [EmailMessage(to=f"{who}@example.org", subject=who, text=".")
             for who in ("ann", "transient", "throttled", "permanent")]
    results = engine.deliver("desk", batch)
    assert [r.message_id for r in results] == [m.id for m in batch]
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.TRANSIENT,
                                            Outcome.THROTTLED, Outcome.PERMANENT]
    assert [m.subject for m in echo.SENT] == ["ann"]


def test_a_plugin_answering_with_the_wrong_count_is_a_plugin_error(registry, echo_settings):
    class Short:
        @postroom.hookimpl(tryfirst=True)
        def postroom_send(self, config, messages):
            return iter([])

    registry.register(Short(), [], name="short")
    engine = Engine.from_dict({"accounts": {"desk": echo_settings}}, registry=registry,
                              environ={"ECHO_SECRET": "x"})
    with pytest.raises(postroom.PluginError, match="0 results for 1 messages"):
        engine.deliver("desk", [engine.message("desk", to="ann@example.org", text=".")])


def test_a_postroom_send_that_is_a_generator_function_is_refused_by_name(installed):
    registry, info = acme_plugin(installed, "acme_sms_greedy",
                                 "def postroom_send(config, messages):\n"
                                 "    for message in messages:\n"
                                 "        yield postroom.SendResult.accepted(message.id)\n")
    assert info.status == "broken"
    assert "postroom_send is a generator function" in info.error
    assert "return None for other configs" in info.error
    # Not registered: it would have answered every account's batches.
    assert registry.pm.get_plugin(info.name) is None and "acme" not in registry.providers()


def test_a_plugin_returning_a_list_still_works_and_is_warned_once(registry, echo_settings,
                                                                   echo):
    class Legacy:
        @postroom.hookimpl(tryfirst=True)
        def postroom_send(self, config, messages):
            return [postroom.SendResult.accepted(m.id, "old-1") for m in messages]

    registry.register(Legacy(), [], name="legacy", distribution="acme-legacy", version="0.9")
    engine = Engine.from_dict({"accounts": {"desk": echo_settings}}, registry=registry,
                              environ={"ECHO_SECRET": "x"})
    batch = [engine.message("desk", to=f"p{i}@example.org", text=".") for i in range(2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r.provider_id for r in engine.deliver("desk", batch)] == ["old-1", "old-1"]
        engine.deliver("desk", batch)
    (warned,) = caught  # once per plugin, not per batch
    assert warned.category is DeprecationWarning
    assert "returns a list from postroom_send" in str(warned.message)


def test_results_out_of_order_are_a_plugin_error_naming_the_plugin(registry, echo_settings):
    class Backwards:
        @postroom.hookimpl(tryfirst=True)
        def postroom_send(self, config, messages):
            return iter([postroom.SendResult.accepted(m.id) for m in reversed(messages)])

    registry.register(Backwards(), [], name="backwards")
    engine = Engine.from_dict({"accounts": {"desk": echo_settings}}, registry=registry,
                              environ={"ECHO_SECRET": "x"})
    batch = [engine.message("desk", to=f"p{i}@example.org", text=".") for i in range(2)]
    with pytest.raises(postroom.PluginError, match=f"the echo plugin.*{batch[0].id} was due"):
        engine.deliver("desk", batch)


def test_every_hook_is_documented_for_vendors_and_tested():
    readme = (ROOT / "README.md").read_text()
    tests = (Path(__file__)).read_text()
    assert sorted(HOOKS) == ["postroom_configure", "postroom_credits", "postroom_receive",
                             "postroom_send", "postroom_test", "postroom_validate"]
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc.split()) > 40, f"{name} needs a docstring a vendor can build from"
        assert name in readme, f"{name} is not described in README.md"
        assert f"{name}" in tests or name.removeprefix("postroom_") in tests


def test_every_hook_argument_is_named_in_its_docstring():
    for name in HOOKS:
        spec = getattr(hookspecs, name)
        doc = inspect.getdoc(spec)
        for arg in ast.parse(inspect.getsource(spec)).body[0].args.args:
            assert f"``{arg.arg}``" in doc or f":param {arg.arg}:" in doc, (name, arg.arg)
