"""``EmailBackend``: Django's email API through postroom's outbox.

::

    EMAIL_BACKEND = "postroom.contrib.django.EmailBackend"

    # or, on Django 6.1 and later, one mailer per account:
    MAILERS = {
        "default": {"BACKEND": "postroom.contrib.django.EmailBackend"},
        "newsletter": {"BACKEND": "postroom.contrib.django.EmailBackend",
                       "OPTIONS": {"account": "bulk"}},
    }

The account is, first to last: ``message.postroom_account`` set on a
message, the backend's ``account`` option (``OPTIONS``, or
``get_connection(account=...)``), ``POSTROOM_EMAIL_ACCOUNT``, the first
email account. Messages are checked and converted when sent, so a bad
address raises in the view; they are queued when the transaction commits
(``POSTROOM_ON_COMMIT``), and a worker (``manage.py postroom_worker``)
delivers them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.db import connections, transaction

from postroom.contrib.django.conf import DjangoSettings
from postroom.contrib.django.convert import to_postroom
from postroom.contrib.django.engine import engine
from postroom.engine import Engine
from postroom.errors import ConfigError, PostroomError
from postroom.messages import EmailMessage

log = logging.getLogger("postroom.django")


def default_email_account(chosen: Engine) -> str:
    """The first email account: of ``[channels] email``, else of the file."""
    names = chosen.config.channels.get("email") or []
    if not names:
        raise ConfigError([("POSTROOM_EMAIL_ACCOUNT", "no email account is configured: add "
                                                      "one to postroom.toml, or name one in "
                                                      "POSTROOM_EMAIL_ACCOUNT")])
    return names[0]


def shared_connection(chosen: Engine, database: str) -> object | None:
    """The database connection to queue on inside the caller's transaction, or None.

    A PostgreSQL store in Django's own database (the same server and database,
    Django on psycopg 3) has its outbox rows written through Django's
    connection (``engine.send(..., connection=conn)``), so they commit or
    roll back with the app's own rows and no ``on_commit`` is needed. For
    every other store this is None, and the messages are queued when the
    transaction commits instead.
    """
    shares = getattr(chosen.store, "shares_database", None)
    wrapper = connections[database]
    if shares is None or wrapper.vendor != "postgresql":
        return None
    wrapper.ensure_connection()
    return wrapper.connection if shares(wrapper.connection) else None


def queue(chosen: Engine, account: str, messages: Sequence[EmailMessage],
          settings: DjangoSettings) -> None:
    """Put ``messages`` in the outbox: inside the transaction when the store
    shares Django's database, else when it commits (or now, by setting)."""
    connection = shared_connection(chosen, settings.database)
    if connection is not None:
        chosen.send(account, *messages, connection=connection)
    elif settings.on_commit:
        transaction.on_commit(lambda: chosen.send(account, *messages), using=settings.database)
    else:
        chosen.send(account, *messages)


class EmailBackend(BaseEmailBackend):
    """Sends Django email through postroom; see the module's docstring."""

    def __init__(self, *args, account: str | None = None, **kwargs) -> None:
        # fail_silently comes first by position on Django 5 (and still may on 6).
        self.quiet = bool(args[0] if args else kwargs.get("fail_silently", False))
        super().__init__(*args, **kwargs)
        self.account = account

    def send_messages(self, email_messages) -> int:
        """Queue the messages, grouped by account; returns how many were accepted."""
        if not email_messages:
            return 0
        try:
            settings = DjangoSettings.read()
            chosen = engine()
            fallback = self.account or settings.email_account
            batches: dict[str, list[EmailMessage]] = {}
            for message in email_messages:
                if not message.recipients():
                    continue  # as Django's own backends: nobody to send to
                account = (getattr(message, "postroom_account", None) or fallback
                           or default_email_account(chosen))
                batches.setdefault(account, []).append(to_postroom(message, settings.sender))
            for account, batch in batches.items():
                chosen.account(account)  # an unknown account fails here, not after commit
                queue(chosen, account, batch, settings)
        except PostroomError:
            if not self.quiet:
                raise
            log.exception("postroom: email not queued (fail_silently is on)")
            return 0
        return sum(len(batch) for batch in batches.values())
