"""The contract kit: a test class that checks a provider plugin honours the hook contract.

A plugin's tests subclass ``ProviderContract``, name the provider, and give
fixtures that aim it at a local fake of the service; pytest then runs every
check here against the installed plugin::

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

Set ``plugin`` to a plugin object (a module, or a ``postroom.Provider``
instance) to check it without installing it; by default the plugin comes
from its entry point.

Fixtures for the paths that go wrong; each check whose fixture is not given
is skipped, and the skip says what it would have checked:

- ``rejected_recipient``: one the service refuses for good;
- ``unreachable_settings``: settings aimed where nothing answers;
- ``bad_credentials_settings``: the working settings with a wrong secret
  (the values that differ from ``settings`` are checked for leaks too);
- ``throttle``: a callable that makes the service answer every later send
  with its throttling answer (HTTP 429 with ``Retry-After``, or the API's own
  code) and returns the seconds it asks to wait;
- ``server_error``: a callable that makes the service answer every later
  send with a server error (HTTP 500 or 503);
- ``garbled_answer``: a callable that makes the service answer every later
  send with a success status and a body that is not the API's (an HTML page);
- ``hold_answers``: a callable taking a delay in seconds that makes the
  service hold every answer back that long; the kit then sets the setting
  named by the class attribute ``timeout_setting`` (``timeout``) to
  ``SLOW_TIMEOUT`` seconds;
- ``invalid_settings``: settings ``configure`` accepts and ``validate`` must
  report an error for (plain http to a public host, say);
- ``sends_seen``: a callable giving how many send requests the service has
  received so far, so the kit can tell whether anything was sent;
- ``webhook_requests``: ``WebhookRequest`` calls the service would make for
  ``settings`` (signed, or carrying the shared secret), and
  ``forged_webhook_requests``: calls whose signature or secret is wrong;
- ``expect_credits``: True if the provider reports a balance.

``postroom_send`` is checked as the engine uses it: an iterator whose results
come one per message (or a list per request carrying several), in order,
which hands a message over only when asked for its result and can be closed
after any result.

Needs pytest.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, quote_plus, urlencode

import attrs
import pytest

from postroom.dispatch import each_result
from postroom.errors import ConfigError
from postroom.inbound import DeliveryReport, InboundMessage, OptChange, Received
from postroom.messages import EmailMessage, Message, SmsMessage
from postroom.plugins import PluginRegistry
from postroom.results import Credits, Diagnosis, Outcome, Problem, SendResult
from postroom.settings import ConfigContext, ProviderConfig
from postroom.webhooks.request import WebhookRequest

HOOKS = ("postroom_configure", "postroom_validate", "postroom_test", "postroom_send",
         "postroom_credits", "postroom_receive")
NOBODYS_PROVIDER = "no-such-provider-for-the-contract-kit"
SLOW_TIMEOUT = 1.0  # the timeout the kit sets while the service holds its answers
SLOW_DELAY = 8.0  # how long the service holds answers in the timeout check
SLOW_BOUND = 4.0  # a send that honours SLOW_TIMEOUT returns well within this
SIGNING_NAMES = ("sig", "signature", "token", "hmac")

_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


class _ForeignConfig(ProviderConfig):
    """A config no plugin owns: every hook must answer it with None (validate: no problem)."""

    provider = NOBODYS_PROVIDER
    channel = "email"


def _forms(secret: str) -> set[str]:
    """The spellings a secret leaks in: as written, URL-encoded and base64."""
    data = secret.encode()
    encoded = {base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()}
    return {secret, quote(secret, safe=""), quote_plus(secret),
            *encoded, *(e.rstrip("=") for e in encoded)}


def _decoded_runs(text: str) -> Iterable[str]:
    """Every run of base64 letters in ``text``, decoded: a Basic header's user:password."""
    for run in _BASE64_RUN.findall(text):
        padded = run + "=" * (-len(run) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                yield decode(padded).decode("utf-8", "ignore")
            except (binascii.Error, ValueError):
                continue


def leaked(secrets: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The secrets that appear in any of ``texts``, as written, URL-encoded or in
    base64 (alone or inside a Basic header); empty when none leaked."""
    texts = list(texts)
    found = []
    for secret in secrets:
        if not secret:
            continue
        forms = _forms(secret)
        if any(form in text for text in texts for form in forms) or any(
                secret in decoded for text in texts for decoded in _decoded_runs(text)):
            found.append(secret)
    return found


def _unsigned(request: WebhookRequest) -> WebhookRequest:
    """``request`` without what proves it: Authorization, signature headers, and
    signature or token fields in the query or a form or JSON body."""
    headers = {name: value for name, value in request.headers.items()
               if name != "authorization" and not any(s in name for s in SIGNING_NAMES)}
    query = {k: v for k, v in request.query.items() if k.lower() not in SIGNING_NAMES}
    body = request.body
    if body and request.content_type == "application/x-www-form-urlencoded":
        body = urlencode({k: v for k, v in request.form().items()
                          if k.lower() not in SIGNING_NAMES}).encode()
    return attrs.evolve(request, headers=headers, query=query, body=body)


def _outcomes(results: Iterable[SendResult]) -> list[str]:
    return [r.outcome.value for r in results]


class ProviderContract:
    """Checks one provider against the hook contract; subclass it in your tests."""

    provider: str = ""
    plugin: object | None = None
    timeout_setting: str = "timeout"

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

    @pytest.fixture
    def bad_credentials_settings(self) -> Mapping[str, object] | None:
        return None

    @pytest.fixture
    def throttle(self) -> Callable[[], float] | None:
        return None

    @pytest.fixture
    def server_error(self) -> Callable[[], None] | None:
        return None

    @pytest.fixture
    def garbled_answer(self) -> Callable[[], None] | None:
        return None

    @pytest.fixture
    def hold_answers(self) -> Callable[[float], None] | None:
        return None

    @pytest.fixture
    def invalid_settings(self) -> Mapping[str, object] | None:
        return None

    @pytest.fixture
    def sends_seen(self) -> Callable[[], int] | None:
        return None

    @pytest.fixture
    def webhook_requests(self) -> list[WebhookRequest] | None:
        return None

    @pytest.fixture
    def forged_webhook_requests(self) -> list[WebhookRequest] | None:
        return None

    # What the checks stand on ---------------------------------------------------

    @pytest.fixture
    def registry(self) -> PluginRegistry:
        if self.plugin is not None:
            registry = PluginRegistry(entry_points=False, environ={})
            info = registry.register(self.plugin, [self.provider], name=self.provider)
            if info.status != "loaded":
                pytest.fail(f"the plugin for {self.provider!r} cannot be registered: "
                            f"{info.error}")
            return registry
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
        return self.configured(hooks, settings, context)

    def configured(self, hooks, settings: Mapping[str, object],
                   context: ConfigContext) -> ProviderConfig:
        return hooks["postroom_configure"](provider=self.provider, settings=dict(settings),
                                           context=context)

    def messages(self, config: ProviderConfig, to: str, count: int) -> list[Message]:
        if config.channel == "sms":
            return [SmsMessage(to=to, text=f"contract check {i}", region="GB")
                    for i in range(count)]
        return [EmailMessage(to=to, subject=f"contract check {i}", text="Checking the contract.")
                for i in range(count)]

    def send(self, hooks, config: ProviderConfig, messages: list[Message]) -> list[SendResult]:
        """Send through the hook; fail, saying what to fix, unless one result per message,
        in order, came back."""
        try:
            results = list(each_result(
                hooks["postroom_send"](config=config, messages=messages) or []))
        except Exception as exc:
            pytest.fail(f"postroom_send raised {type(exc).__name__}: {exc}. Turn every answer "
                        "of the service, including one you cannot read, into a SendResult "
                        "(transient, with info maybe_delivered when the request may have been "
                        "acted on); exceptions are for bugs")
        assert [getattr(r, "message_id", None) for r in results] == [m.id for m in messages], (
            f"postroom_send answered {len(results)} results for a batch of {len(messages)}: "
            "return exactly one SendResult per message, in the batch's order, with "
            "message_id=message.id")
        assert all(isinstance(r, SendResult) for r in results), results
        return results

    # The checks: routing and configuration ------------------------------------------

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
        assert hooks["postroom_receive"](config=foreign,
                                         request=WebhookRequest(method="POST")) is None
        answers = hooks["postroom_validate"](config=foreign)
        problems = [p for answer in answers for p in answer or ()]
        assert problems == [], (
            f"postroom_validate reported {problems} for another provider's account: answer "
            "None for a config that is not of your class (if not isinstance(config, "
            "YourConfig): return None)")

    def test_validate_returns_problems_and_does_not_raise(self, hooks, config):
        answers = hooks["postroom_validate"](config=config)
        problems = [p for answer in answers for p in answer or ()]
        assert all(isinstance(p, Problem) for p in problems)
        assert all(type(p.severity) is str and p.severity in ("error", "warning")
                   for p in problems), "Problem.severity is the plain string error or warning"
        assert not [p for p in problems if p.severity == "error"], problems

    def test_validate_reports_a_config_error_without_raising(self, hooks, context,
                                                              invalid_settings):
        if invalid_settings is None:
            pytest.skip("no invalid_settings fixture: would check that validate reports a "
                        "config error as a Problem instead of raising")
        config = self.configured(hooks, invalid_settings, context)
        try:
            answers = hooks["postroom_validate"](config=config)
        except Exception as exc:
            pytest.fail(f"postroom_validate raised {type(exc).__name__}: {exc}. Return "
                        "Problem.error(field, message, hint) for each mistake; never raise")
        errors = [p for answer in answers for p in answer or () if p.severity == "error"]
        assert errors, ("postroom_validate found no error in invalid_settings: check the "
                        "settings that contradict each other or would leak a secret")
        assert all(p.field and p.message for p in errors), errors

    def test_validate_stays_offline(self, hooks, context, config, invalid_settings, monkeypatch):
        tried: list[str] = []

        def refuse(*args, **kw):
            tried.append(repr(args[1] if len(args) > 1 else args[0] if args else kw))
            raise OSError("the contract kit keeps validate offline")

        monkeypatch.setattr(socket.socket, "connect", refuse)
        monkeypatch.setattr(socket.socket, "connect_ex", refuse)
        monkeypatch.setattr(socket, "getaddrinfo", refuse)
        configs = [config]
        if invalid_settings is not None:
            configs.append(self.configured(hooks, invalid_settings, context))
        for each in configs:
            with contextlib.suppress(Exception):  # raising is the other check's business
                hooks["postroom_validate"](config=each)
        assert tried == [], (f"postroom_validate went online ({tried[0]}): validate checks "
                             "settings offline; live checks belong in postroom_test")

    # The checks: sending ----------------------------------------------------------------

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
        (single,) = self.send(hooks, config, self.messages(config, recipient, 1))
        assert single.outcome is Outcome.ACCEPTED, single

    def test_send_can_be_stopped_after_a_result(self, hooks, config, recipient, sends_seen):
        batch = self.messages(config, recipient, 3)
        before = sends_seen() if sends_seen else 0
        answer = hooks["postroom_send"](config=config, messages=batch)
        first = next(answer)
        given = len(first) if isinstance(first, list | tuple) else 1
        first = first[0] if isinstance(first, list | tuple) else first
        assert first.message_id == batch[0].id and first.ok, first
        answer.close()  # as the engine does when it stops: cleans up, raises nothing
        if sends_seen is not None:
            sent = sends_seen() - before
            assert sent <= given, (
                f"{sent} send requests reached the service before the engine asked for more "
                f"than {given} result(s): hand a message over only when asked for its result "
                "(send inside the generator, one request per yield), so that a batch the "
                "engine stops leaves the rest unsent")
        (again,) = self.send(hooks, config, self.messages(config, recipient, 1))
        assert again.ok, again

    def test_a_refused_recipient_fails_permanently(self, hooks, config, recipient,
                                                   rejected_recipient):
        if rejected_recipient is None:
            pytest.skip("no rejected_recipient fixture: would check that a recipient the "
                        "service refuses fails permanently and the batch goes on")
        batch = self.messages(config, rejected_recipient, 1) + self.messages(config, recipient, 1)
        results = self.send(hooks, config, batch)
        assert _outcomes(results) == ["permanent", "accepted"], results
        assert results[0].text

    def test_an_unreachable_provider_fails_transiently(self, hooks, context, recipient,
                                                       unreachable_settings):
        if unreachable_settings is None:
            pytest.skip("no unreachable_settings fixture: would check that a service that "
                        "cannot be reached is unreachable (or transient) and test says where")
        config = self.configured(hooks, unreachable_settings, context)
        results = self.send(hooks, config, self.messages(config, recipient, 2))
        # unreachable pauses the account as a whole; transient is the older answer.
        assert set(_outcomes(results)) <= {"unreachable", "transient"}, (
            f"an unreachable service gave {_outcomes(results)}: a service that cannot be "
            "reached before a message is handed over is SendResult.unreachable (the account "
            "backs off as a whole), never permanent or accepted")
        diagnosis = hooks["postroom_test"](config=config, target=None)
        assert isinstance(diagnosis, Diagnosis)
        assert not diagnosis.ok
        assert diagnosis.stage and diagnosis.category and diagnosis.hint

    def test_bad_credentials_stop_the_account_and_the_batch(self, hooks, context, recipient,
                                                            bad_credentials_settings,
                                                            sends_seen):
        if bad_credentials_settings is None:
            pytest.skip("no bad_credentials_settings fixture: would check that refused "
                        "credentials stop the account (account_stopped for every message, "
                        "nothing sent after the refusal) and that test explains them")
        config = self.configured(hooks, bad_credentials_settings, context)
        before = sends_seen() if sends_seen else 0
        results = self.send(hooks, config, self.messages(config, recipient, 3))
        assert _outcomes(results) == ["account_stopped"] * 3, (
            f"refused credentials gave {_outcomes(results)}: map HTTP 401 and 403 (and the "
            "API's own 'bad credentials' codes) to SendResult.account_stopped, so the account "
            "pauses and its messages wait for the fix instead of failing for good; return the "
            "rest of the batch unsent, account_stopped too")
        if sends_seen is not None:
            sent = sends_seen() - before
            assert sent <= 1, (f"{sent} send requests reached the service after it refused "
                               "the credentials: stop the batch at the first account_stopped "
                               "and return the rest unsent")
        diagnosis = hooks["postroom_test"](config=config, target=None)
        assert isinstance(diagnosis, Diagnosis) and not diagnosis.ok, diagnosis
        assert diagnosis.hint, "say in the hint which setting holds the credentials"

    def test_throttling_pauses_the_account_with_the_retry_time(self, hooks, config, recipient,
                                                              throttle, sends_seen):
        if throttle is None:
            pytest.skip("no throttle fixture: would check that a throttling answer (HTTP 429) "
                        "is throttled with the Retry-After time and ends the batch")
        wait = throttle()
        before = sends_seen() if sends_seen else 0
        results = self.send(hooks, config, self.messages(config, recipient, 3))
        assert _outcomes(results) == ["throttled"] * 3, (
            f"a throttling answer gave {_outcomes(results)}: map HTTP 429 (and the API's "
            "'too many requests' codes) to SendResult.throttled, with retry_after from "
            "Retry-After; the engine pauses the whole account, so return the rest of the "
            "batch unsent, throttled too")
        assert results[0].retry_after == pytest.approx(wait), (
            f"retry_after is {results[0].retry_after!r}, the service asked for {wait}: read "
            "it with postroom.http.retry_after(response.headers.get('Retry-After'))")
        if sends_seen is not None:
            assert sends_seen() - before <= 1, ("the batch went on after the service asked to "
                                                "slow down: stop at the first throttled answer")

    def test_a_server_error_is_transient(self, hooks, config, recipient, server_error):
        if server_error is None:
            pytest.skip("no server_error fixture: would check that HTTP 5xx answers are "
                        "transient, retried later")
        server_error()
        results = self.send(hooks, config, self.messages(config, recipient, 2))
        assert set(_outcomes(results)) == {"transient"}, (
            f"a server error gave {_outcomes(results)}: map HTTP 5xx to SendResult.transient "
            "(a fault at the service passes; postroom retries with backoff)")

    def test_an_unreadable_answer_is_a_result_not_an_exception(self, hooks, config, recipient,
                                                               garbled_answer):
        if garbled_answer is None:
            pytest.skip("no garbled_answer fixture: would check that a success status with "
                        "a body that is not the API's becomes a transient result")
        garbled_answer()
        results = self.send(hooks, config, self.messages(config, recipient, 2))
        assert set(_outcomes(results)) == {"transient"}, (
            f"an unreadable answer gave {_outcomes(results)}: the service may have taken the "
            "message, so make it transient (maybe_processed) and let your client reference "
            "or deduplication make the retry safe")

    def slow(self, hooks, settings, context, hold_answers, delay: float) -> ProviderConfig:
        """A config with a timeout of ``SLOW_TIMEOUT``, the service holding answers ``delay``."""
        hold_answers(delay)
        return self.configured(hooks, {**settings, self.timeout_setting: SLOW_TIMEOUT}, context)

    def test_the_timeout_is_honoured(self, hooks, settings, context, recipient, hold_answers):
        if hold_answers is None:
            pytest.skip("no hold_answers fixture: would check that a service that does not "
                        "answer is given up after the configured timeout")
        config = self.slow(hooks, settings, context, hold_answers, SLOW_DELAY)
        started = time.monotonic()
        results = self.send(hooks, config, self.messages(config, recipient, 1))
        took = time.monotonic() - started
        assert took < SLOW_BOUND, (
            f"sending to a service that holds its answer took {took:.1f} s with a timeout of "
            f"{SLOW_TIMEOUT:g} s: pass the config's timeout to every network call "
            "(HttpClient(timeout=config.timeout))")
        assert _outcomes(results) == ["transient"], results
        started = time.monotonic()
        diagnosis = hooks["postroom_test"](config=config, target=None)
        assert time.monotonic() - started < SLOW_BOUND, "postroom_test ignored the timeout"
        assert isinstance(diagnosis, Diagnosis) and not diagnosis.ok, diagnosis

    # The checks: test, credits, exact types ------------------------------------------

    def test_test_returns_a_diagnosis(self, hooks, config, recipient):
        diagnosis = hooks["postroom_test"](config=config, target=None)
        assert isinstance(diagnosis, Diagnosis)
        assert diagnosis.ok, diagnosis
        sent = hooks["postroom_test"](config=config, target=recipient)
        assert isinstance(sent, Diagnosis)
        assert sent.ok, sent
        assert all(type(k) is str and type(v) is str for k, v in sent.facts.items()), (
            f"Diagnosis.facts must map text to text, got {sent.facts!r}")

    def test_credits_are_a_balance_or_none(self, hooks, config, expect_credits):
        answer = hooks["postroom_credits"](config=config)
        assert answer is None or isinstance(answer, Credits)
        if expect_credits is not None:
            assert (answer is not None) == expect_credits
        if answer is not None:
            assert type(answer.balance) is Decimal, (
                f"Credits.balance is a {type(answer.balance).__name__}: make it a Decimal, "
                "read from the API's text (Decimal(str(value)), or json with "
                "parse_float=Decimal), never a float")
            assert answer.low_threshold is None or type(answer.low_threshold) is Decimal, (
                "Credits.low_threshold is a Decimal or None")

    def test_results_have_exact_types(self, hooks, config, recipient):
        (result,) = self.send(hooks, config, self.messages(config, recipient, 1))
        assert result.cost is None or type(result.cost) is Decimal, (
            f"SendResult.cost is a {type(result.cost).__name__}: make it a Decimal")
        assert result.provider_id is None or type(result.provider_id) is str
        assert all(type(k) is str and type(v) is str for k, v in result.info.items()), (
            f"SendResult.info must map text to text, got {result.info!r}")

    # The checks: inbound ---------------------------------------------------------------

    def test_receive_takes_the_services_calls(self, hooks, config, webhook_requests):
        if webhook_requests is None:
            pytest.skip("no webhook_requests fixture: would check that the receive hook "
                        "reads the service's signed calls into events")
        for request in webhook_requests:
            answer = hooks["postroom_receive"](config=config, request=request)
            assert isinstance(answer, Received) and answer.ok, (
                f"postroom_receive answered {answer!r} to a call the service signed: check "
                "the signature the way the service makes it")
            assert answer.events and all(
                isinstance(e, DeliveryReport | InboundMessage | OptChange)
                for e in answer.events), answer

    def test_receive_refuses_unsigned_and_forged_calls(self, hooks, config, webhook_requests,
                                                       forged_webhook_requests, secrets):
        if webhook_requests is None:
            pytest.skip("no webhook_requests fixture: would check that the receive hook "
                        "refuses calls without the signature or with a forged one")
        calls = [_unsigned(r) for r in webhook_requests] + list(forged_webhook_requests or [])
        for request in calls:
            answer = hooks["postroom_receive"](config=config, request=request)
            assert isinstance(answer, Received) and not answer.ok and not answer.events, (
                f"postroom_receive took an unsigned or forged call ({answer!r}): verify the "
                "service's signature (or postroom.webhooks.shared_secret_problem) and answer "
                "Received.refuse(reason) when it is missing or wrong")
            assert answer.status in (400, 401, 403) and answer.reason
            assert leaked(secrets, [answer.reason]) == [], "the refusal quotes a secret"

    # The checks: secrets, on every channel ---------------------------------------------

    def test_no_secret_leaks(self, hooks, config, settings, context, recipient,
                             rejected_recipient, unreachable_settings, bad_credentials_settings,
                             invalid_settings, webhook_requests, forged_webhook_requests,
                             throttle, server_error, garbled_answer, hold_answers, secrets,
                             caplog, capfd):
        caplog.set_level(logging.DEBUG)
        seen: list[str] = []

        def run(hook: str, **kw) -> object:
            try:
                answer = hooks[hook](**kw)
                if hook == "postroom_send":  # the results come as the stream is read
                    answer = list(each_result(answer or []))
            except Exception as exc:  # the text of any exception is a channel too
                seen.append("".join(traceback.format_exception(exc)))
                return None
            seen.append(repr(answer))
            return answer

        def everything(each: ProviderConfig, target: str) -> None:
            seen.extend([repr(each), str(each)])
            run("postroom_send", config=each, messages=self.messages(each, target, 2))
            run("postroom_test", config=each, target=None)
            run("postroom_test", config=each, target=target)
            run("postroom_credits", config=each)
            run("postroom_validate", config=each)

        everything(config, recipient)
        if rejected_recipient is not None:
            run("postroom_send", config=config,
                messages=self.messages(config, rejected_recipient, 1))
        for other in (unreachable_settings, bad_credentials_settings):
            if other is not None:
                everything(self.configured(hooks, other, context), recipient)
        if invalid_settings is not None:  # offline only: it may name a real host
            invalid = self.configured(hooks, invalid_settings, context)
            seen.extend([repr(invalid), str(invalid)])
            run("postroom_validate", config=invalid)
        for request in [*(webhook_requests or []), *(forged_webhook_requests or []),
                        *map(_unsigned, webhook_requests or [])]:
            run("postroom_receive", config=config, request=request)
        try:
            self.configured(hooks, {**settings, "no_such_setting": 1}, context)
        except ConfigError as exc:
            seen.append(str(exc))
        for trouble in (garbled_answer, server_error, throttle):
            if trouble is not None:
                trouble()
                run("postroom_send", config=config, messages=self.messages(config, recipient, 2))
                run("postroom_test", config=config, target=None)
        if hold_answers is not None:
            timing_out = self.slow(hooks, settings, context, hold_answers, SLOW_TIMEOUT * 2)
            run("postroom_send", config=timing_out,
                messages=self.messages(timing_out, recipient, 1))
            run("postroom_test", config=timing_out, target=None)
        out, err = capfd.readouterr()
        # The wrong secret of bad_credentials_settings must not leak either.
        secrets = [*secrets, *(str(value) for key, value in (bad_credentials_settings or {}).items()
                               if isinstance(value, str) and value != settings.get(key))]
        channels = {"results, diagnoses and exceptions": seen, "logs": [caplog.text],
                    "standard output": [out], "standard error": [err]}
        for channel, texts in channels.items():
            assert leaked(secrets, texts) == [], (
                f"a secret appears in {channel} (as written, URL-encoded or in base64, as in a "
                "Basic header): call Secret.reveal() only where the request is built, write "
                "your own error texts (HttpClient.error scrubs them), never quote a request's "
                "headers or URL, and print nothing")


__all__ = ["SLOW_TIMEOUT", "ProviderContract", "leaked"]
