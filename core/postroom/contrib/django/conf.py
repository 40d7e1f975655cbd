"""The Django settings postroom reads, each with its default.

``POSTROOM``
    the postroom configuration: a path to ``postroom.toml`` (relative to
    ``BASE_DIR``), or a dict shaped like it. Unset: ``$POSTROOM_CONFIG``,
    else ``postroom.toml`` in the working directory.
``POSTROOM_EMAIL_ACCOUNT``
    the account ``EmailBackend`` sends through; default: the first email
    account (of ``[channels] email``, else of the file).
``POSTROOM_SENDER``
    ``"account"`` (default): a message whose From is Django's
    ``DEFAULT_FROM_EMAIL`` goes out from the account's own sender, so the
    sender is configured once, in the account; a From the code sets wins.
    ``"django"``: the message's From is always used, ``DEFAULT_FROM_EMAIL``
    included.
``POSTROOM_ON_COMMIT``
    ``True`` (default): email is queued when the transaction commits, so a
    rolled-back view queues nothing; ``False``: at once.
``POSTROOM_DATABASE``
    the database alias whose transactions ``POSTROOM_ON_COMMIT`` follows, and
    where the admin looks for a PostgreSQL outbox; default ``"default"``.
``POSTROOM_CAPTURE``
    ``True``: capture messages instead of sending them (test settings);
    ``False``: never; ``None`` (default): capture while Django's test
    environment is set up (``manage.py test``, pytest-django).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from attrs import frozen
from django.conf import settings

from postroom.errors import ConfigError

SETTINGS = ("POSTROOM", "POSTROOM_EMAIL_ACCOUNT", "POSTROOM_SENDER", "POSTROOM_ON_COMMIT",
            "POSTROOM_DATABASE", "POSTROOM_CAPTURE")


@frozen
class DjangoSettings:
    """postroom's Django settings, read and checked."""

    config: Path | Mapping[str, object] | None
    base_dir: Path
    email_account: str | None
    sender: Literal["account", "django"]
    on_commit: bool
    database: str
    capture: bool | None

    @classmethod
    def read(cls) -> DjangoSettings:
        base_dir = Path(getattr(settings, "BASE_DIR", None) or Path.cwd())
        config = getattr(settings, "POSTROOM", None)
        if isinstance(config, str | Path):
            config = base_dir / config
        elif config is not None and not isinstance(config, Mapping):
            raise ConfigError([("POSTROOM", "expected the path of postroom.toml or a dict "
                                            f"shaped like it, got {type(config).__name__}")])
        sender = getattr(settings, "POSTROOM_SENDER", "account")
        if sender not in ("account", "django"):
            raise ConfigError([("POSTROOM_SENDER", f'expected "account" or "django", '
                                                   f"got {sender!r}")])
        capture = getattr(settings, "POSTROOM_CAPTURE", None)
        if capture not in (True, False, None):
            raise ConfigError([("POSTROOM_CAPTURE", f"expected True, False or None, "
                                                    f"got {capture!r}")])
        return cls(config, base_dir, getattr(settings, "POSTROOM_EMAIL_ACCOUNT", None), sender,
                   bool(getattr(settings, "POSTROOM_ON_COMMIT", True)),
                   getattr(settings, "POSTROOM_DATABASE", "default"), capture)
