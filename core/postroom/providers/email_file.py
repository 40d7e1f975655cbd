"""The ``email_file`` provider: each email becomes an ``.eml`` file in a folder.

Like Django's file backend, it is for development, demos and tests: nothing
leaves the machine, and any mail program opens the files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from attrs import define

from postroom.addresses import Address
from postroom.hookspecs import hookimpl
from postroom.messages import EmailMessage
from postroom.mime import build_mime
from postroom.providers.files import write_atomically
from postroom.results import Diagnosis, Problem, SendResult
from postroom.settings import ConfigContext, EmailAddress, ProviderConfig

PROVIDER = "email_file"


@define
class EmailFileConfig(ProviderConfig):
    """Settings: ``directory`` (default ``outbox/email`` beside the config),
    ``sender`` and ``sender_name`` for the From header."""

    provider: ClassVar[str] = PROVIDER
    channel: ClassVar[str] = "email"

    directory: Path
    sender: EmailAddress = "postroom@example.org"  # type: ignore[assignment]
    sender_name: str = ""

    @property
    def from_address(self) -> Address:
        return Address(self.sender, self.sender_name)


@hookimpl
def postroom_configure(provider: str, settings: Mapping[str, object],
                       context: ConfigContext) -> EmailFileConfig | None:
    if provider != PROVIDER:
        return None
    return context.structure({"directory": "outbox/email", **settings}, EmailFileConfig)


@hookimpl
def postroom_validate(config: object) -> list[Problem] | None:
    if not isinstance(config, EmailFileConfig):
        return None
    if config.directory.exists() and not config.directory.is_dir():
        return [Problem.error("directory", f"{config.directory} exists and is not a folder",
                              "point directory at a folder, or remove the file")]
    return []


def _write(config: EmailFileConfig, message: EmailMessage) -> Path:
    data = bytes(build_mime(message, config.from_address))
    name = time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + message.id + ".eml"
    return write_atomically(config.directory / name, data)


@hookimpl
def postroom_send(config: object,
                  messages: Sequence[EmailMessage]) -> Iterator[SendResult] | None:
    if not isinstance(config, EmailFileConfig):
        return None
    return _send(config, messages)


def _send(config: EmailFileConfig, messages: Sequence[EmailMessage]) -> Iterator[SendResult]:
    """One file per message, written when the engine asks for its result."""
    for message in messages:
        try:
            path = _write(config, message)
        except OSError as exc:
            yield SendResult.transient(message.id, None,
                                       f"cannot write to {config.directory}: {exc}")
        else:
            yield SendResult.accepted(message.id, path.name, info={"path": str(path)})


@hookimpl
def postroom_test(config: object, target: str | None) -> Diagnosis | None:
    if not isinstance(config, EmailFileConfig):
        return None
    try:
        config.directory.mkdir(parents=True, exist_ok=True)
        probe = config.directory / f".postroom-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return Diagnosis.failed("write", "not-writable", f"cannot write to {config.directory}: "
                                f"{exc.strerror}", "create the folder or fix its permissions, "
                                "or point directory somewhere writable")
    facts = {"directory": str(config.directory)}
    if target:
        message = EmailMessage(to=target, subject="postroom test message",
                               text="This is a test message from postroom.")
        facts["file"] = str(_write(config, message))
    return Diagnosis.passed("write", f"can write emails to {config.directory}", facts)
