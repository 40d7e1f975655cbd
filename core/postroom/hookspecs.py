"""The postroom plugin contract: six hooks a provider plugin implements.

A provider plugin is a module (or object) with functions marked
``@postroom.hookimpl`` and named as below. It is found through the entry-point
group ``postroom``, one entry per provider name it serves::

    [project.entry-points.postroom]
    acme_sms = "postroom_acme_sms"

**Routing.** Every account names a provider. ``postroom_configure`` is asked
with that name and only the plugin that serves it answers (every other plugin
returns ``None``); it returns the plugin's own config object, an attrs class
deriving from ``postroom.ProviderConfig``. From then on each hook receives that
config object, and a plugin answers only for configs of its own class
(``if not isinstance(config, AcmeConfig): return None``), as pytest's collection
hooks do. ``postroom_validate`` is the exception: every plugin is asked and all
answers are joined, so a plugin may add checks across providers.

**Errors.** Hooks report what went wrong in their return values (problems,
diagnoses, per-message results); they raise only for bugs. A hook must never
put a secret (``Secret.reveal()``) into anything it returns, raises or logs.

**Arguments.** An implementation may accept fewer arguments than the spec
names (pluggy passes only the ones it asks for); later versions of postroom
may add arguments, never remove them.

``postroom.testing`` holds a contract kit: a test class a plugin author points
at their provider to check all of the above.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from postroom.inbound import Received
    from postroom.messages import Message
    from postroom.results import Credits, Diagnosis, Problem, SendResult
    from postroom.settings import ConfigContext, ProviderConfig
    from postroom.webhooks.request import WebhookRequest

PROJECT = "postroom"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def postroom_configure(
    provider: str, settings: Mapping[str, object], context: ConfigContext
) -> ProviderConfig | None:
    """Turn an account's raw settings into the plugin's typed config.

    :param provider: the provider name the account chose (``"smtp"``). Return
        ``None`` unless it is a name your plugin serves.
    :param settings: the account's table from ``postroom.toml`` (or the dict an
        app passed), without the keys postroom itself reads (``provider``,
        ``region``, and the scheduling keys).
    :param context: ``ConfigContext`` with the account name, the config
        file's folder, the default phone region and ``context.structure``.

    Build the config with ``context.structure(settings, MyConfig)``: it applies
    postroom's strict types (``Port``, ``Secret``, ``EmailAddress``, ...) and
    raises ``postroom.ConfigError`` naming each bad setting; let that error
    propagate. Secrets given as ``{ env = "VAR" }`` or ``{ file = "path" }``
    arrive as ``postroom.Secret`` objects. Do no I/O here beyond what
    structuring needs: ``configure`` runs for every command, even offline ones.

    :returns: an instance of your ``ProviderConfig`` subclass whose
        ``provider`` class variable equals ``provider``, or ``None``.
    """


@hookspec
def postroom_validate(config: ProviderConfig) -> Sequence[Problem] | None:
    """Find mistakes in a config without going online.

    :param config: an account's config, as some plugin's ``configure`` built it.

    Called for every account, on every plugin; answer for your own config
    class (and for others only to add checks that span providers). Return a
    list of ``postroom.Problem`` (``Problem.error(field, message, hint)`` or
    ``Problem.warning(...)``), empty when all is well, or ``None`` when the
    config is not yours. ``field`` is the setting's path within the account
    (``port``). Never raise for a bad config: report it.

    Typical checks: settings that contradict each other (SSL on the STARTTLS
    port), credentials half given, a plaintext password over an unencrypted
    connection, certificate checks switched off.
    """


@hookspec(firstresult=True)
def postroom_test(config: ProviderConfig, target: str | None) -> Diagnosis | None:
    """Check live that the account works, as an admin's "Test" button does.

    :param config: the account's config; answer only if it is your class.
    :param target: where to send a test message (an email address, or a
        phone number already in E.164), or ``None`` to only check the account.

    Go through the same steps a real send takes (resolve, connect, TLS,
    authenticate, ask the API) and stop at the first that fails. When
    ``target`` (an address or phone number) is given, also send a short test
    message to it. When ``target`` is ``None``, send nothing: check what can
    be checked without sending (the smtp provider asks the server whether it
    takes the sender, then resets).

    :returns: ``postroom.Diagnosis`` — ``Diagnosis.passed(stage, detail,
        facts)`` or ``Diagnosis.failed(stage, category, detail, hint)``. The
        ``hint`` is the point of this hook: say what to change, in the admin's
        words ("the server wants SSL on port 465: set security = \\"ssl\\""). Put
        what the check learned (server name, TLS version, balance, message id)
        in ``facts``. ``None`` when the config is not yours. Never raise for a
        failed check; bound every network wait by the config's timeout.
    """


@hookspec(firstresult=True)
def postroom_send(
    config: ProviderConfig, messages: Sequence[Message]
) -> Iterator[SendResult | Sequence[SendResult]] | None:
    """Send a batch of messages through one connection or session, reporting
    each message's result as soon as it is known.

    :param config: the account's config; answer only if it is your class.
    :param messages: the batch, in the order results must come back.

    ``messages`` are ``postroom.EmailMessage`` for an email provider or
    ``postroom.SmsMessage`` for an SMS provider (the config's ``channel``),
    already checked. Open one connection for the batch and reuse it; if it
    drops mid-batch, reconnect and go on.

    :returns: ``None`` when the config is not yours; otherwise an iterator,
        usually a generator object, of exactly one ``postroom.SendResult`` per
        message, in the same order, with ``message_id=message.id``. Return it
        from your hook function, which must not itself be a generator function
        (it would then answer every account, not only yours, and postroom
        refuses to load it)::

            @hookimpl
            def postroom_send(config, messages):
                if not isinstance(config, AcmeConfig):
                    return None
                return send_batch(config, messages)   # a generator function

            def send_batch(config, messages):
                with AcmeClient(config) as client:
                    for message in messages:
                        yield client.send(message)    # one SendResult

        The engine asks for one result at a time and records it at once.
        Hand message *i* over only when asked for its result: between two
        results the engine may stop asking (it is shutting down, or its lease
        on the batch is in doubt) and close the iterator. The messages you
        have not handed over then go back to the queue untried, so put the
        clean-up (closing the connection) in ``with`` or ``finally`` blocks,
        which run when the iterator is closed. When one request carries
        several messages, hand them over together and yield the list of
        their results (in order) as one item. A message whose result you have
        not given must not have been handed over when the iterator is closed.

        Each result:

        - ``SendResult.accepted(id, provider_id, cost=..., currency=...)``
          when the provider took it (recipients it refused while taking the
          rest go in ``refused``); a ``cost``, or the balance left in
          ``info["remaining_balance"]`` (or a config whose ``credits_needed``
          prices messages), makes the engine read the balance
          (``postroom_credits``) after the batch, to tell the app when it
          runs low;
        - ``SendResult.transient(id, code, text)`` for what may work later
          (4xx, connection lost, timeout, HTTP 5xx): the engine retries with
          backoff; put ``info={"maybe_delivered": "true"}`` when the message
          may have gone before things broke;
        - ``SendResult.throttled(id, code, text, retry_after=...)`` when the
          provider asks to slow down: the account pauses, the message keeps
          its tries;
        - ``SendResult.account_stopped(id, code, text)`` when the account can
          send nothing more for now (out of credit, daily quota): the account
          pauses, the message stays queued;
        - ``SendResult.unreachable(id, code, text)`` when the provider could not
          be reached before the message was handed over (DNS, a refused
          connection, TLS, the login): the account pauses as a whole, with
          backoff and one probe at a time across all workers, and the message
          keeps its tries and due time;
        - ``SendResult.permanent(id, code, text)`` when it can never go as it
          is (bad recipient, 5xx, rejected content): not retried.

        After a result that pauses the account (throttled, stopped,
        unreachable) the engine asks for no more. Exceptions are for bugs: a
        network error is a result, not an exception. If your iterator raises
        all the same, the results it gave stand, the message in hand is
        retried, the rest go back to the queue, and the error is logged with
        your plugin's name and distribution.

        Rate limits are not the plugin's to keep: declare them with
        ``ProviderConfig.limits()`` and the store keeps them across every
        worker. A list of every result (the first version of this contract)
        still works, but the batch cannot be stopped half way, its results are
        recorded only at its end, and a ``DeprecationWarning`` says so.
    """


@hookspec(firstresult=True)
def postroom_credits(config: ProviderConfig) -> Credits | None:
    """Report the account's balance, for providers that sell credit.

    :param config: the account's config; answer only if it is your class.

    :returns: ``postroom.Credits(balance, unit, low_threshold, auto_reload,
        detail)`` for your own config, or ``None`` (also when the provider has
        no notion of credit, such as SMTP). Raise ``postroom.PluginError``
        with a readable message if the balance cannot be read.
    """


@hookspec(firstresult=True)
def postroom_receive(config: ProviderConfig, request: WebhookRequest) -> Received | None:
    """Read one webhook call from the provider: delivery reports, replies, opt-outs.

    :param config: the account's config; answer only if it is your class.
    :param request: a ``postroom.webhooks.WebhookRequest``: ``method``,
        ``path`` (below the account's ``/ACCOUNT`` prefix), ``headers``,
        ``query``, ``body`` (bytes), ``remote_addr``; ``params()`` merges the
        query with a form or JSON body, ``json()`` and ``form()`` read the body.

    postroom's webhook app (``postroom.webhooks``) routes ``/ACCOUNT/...`` to
    the account's plugin through this hook. First make sure the call comes
    from the provider: check its signature with the provider's scheme and the
    account's secret, or, for a provider that signs nothing, a shared secret
    in the address (``postroom.webhooks.shared_secret_problem(request,
    config.webhook_secret)``). A call that fails the check, or carries none,
    is refused, whatever it holds; so is one whose account has no secret set.

    :returns: ``postroom.inbound.Received``:

        - ``Received.refuse(reason, status=403)`` for a missing or wrong
          signature (400 for a call that is not a webhook of yours): postroom
          answers the status, logs ``reason`` with the caller's address, and
          records nothing. Never quote a secret in ``reason``.
        - ``Received.accept(events)`` with, for each item of the call:
          ``DeliveryReport(state="delivered"|"failed"|"pending",
          message_id=..., provider_id=..., status=..., reason=..., cost=...)``
          for a report on a sent message (``message_id`` is postroom's id, the
          client reference you sent with the message; ``provider_id`` the id
          the provider answered the send with; either finds the message);
          ``InboundMessage(sender, recipient, text, at, provider_id)`` for a
          message someone sent to the account (postroom reads STOP and START
          keywords in it itself, under the account's ``keywords``);
          ``OptChange(number, opted_out)`` when the provider says a number
          opted out on its own. ``body`` and ``status`` are what postroom
          answers (204 and no body unless the provider wants otherwise).

        ``None`` when the config is not yours, or your provider sends no
        webhooks. Read what you can and ignore fields you do not know;
        exceptions are for bugs (postroom answers 500, and the provider will
        call again).
    """
