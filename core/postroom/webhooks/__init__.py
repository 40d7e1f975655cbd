"""Inbound: the webhook app providers call with delivery reports, replies and opt-outs.

- ``wsgi_app(engine)`` / ``asgi_app(engine)``: one app for every account,
  routing ``/ACCOUNT/...`` to that account's plugin (``postroom_receive``);
- ``WebhookRequest``: the call as a plugin's receive hook reads it;
- ``shared_secret_problem``: the check for providers that sign nothing;
- ``webhook_server``: the stand-alone server behind ``postroom webhooks serve``.
"""

from postroom.webhooks.app import WebhookApp, asgi_app, wsgi_app
from postroom.webhooks.auth import TOKEN_PARAMETER, shared_secret_problem
from postroom.webhooks.request import MAX_BODY, RequestError, WebhookRequest
from postroom.webhooks.serve import webhook_server

__all__ = ["MAX_BODY", "TOKEN_PARAMETER", "RequestError", "WebhookApp", "WebhookRequest",
           "asgi_app", "shared_secret_problem", "webhook_server", "wsgi_app"]
