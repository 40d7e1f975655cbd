"""The ``sms_file`` provider: each text message becomes a JSON line in a file.

For development, demos and tests: the file shows what would have been sent,
to whom, from which sender id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from attrs import define

from postroom.hookspecs import hookimpl
from postroom.messages import SmsMessage
from postroom.providers.files import append_lines
from postroom.results import Diagnosis, Problem, SendResult
from postroom.settings import ConfigContext, ProviderConfig
from postroom.sms_text import segment

PROVIDER = "sms_file"


@define
class SmsFileConfig(ProviderConfig):
    """Settings: ``path`` of the JSON-lines file (default ``outbox/sms.jsonl``
    beside the config) and ``sender``, the sender id written with each line."""

    provider: ClassVar[str] = PROVIDER
    channel: ClassVar[str] = "sms"

    path: Path
    sender: str = "postroom"


@hookimpl
def postroom_configure(provider: str, settings: Mapping[str, object],
                       context: ConfigContext) -> SmsFileConfig | None:
    if provider != PROVIDER:
        return None
    return context.structure({"path": "outbox/sms.jsonl", **settings}, SmsFileConfig)


@hookimpl
def postroom_validate(config: object) -> list[Problem] | None:
    if not isinstance(config, SmsFileConfig):
        return None
    if config.path.is_dir():
        return [Problem.error("path", f"{config.path} is a folder",
                              "point path at a file, such as outbox/sms.jsonl")]
    return []


def _line(config: SmsFileConfig, message: SmsMessage) -> bytes:
    split = segment(message.text)
    record = {"id": message.id, "time": datetime.now(UTC).isoformat(timespec="seconds"),
              "from": message.sender or config.sender, "to": message.to, "text": message.text,
              "encoding": split.encoding, "segments": split.segments}
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


@hookimpl
def postroom_send(config: object,
                  messages: Sequence[SmsMessage]) -> Iterator[list[SendResult]] | None:
    if not isinstance(config, SmsFileConfig):
        return None
    return _send(config, messages)


def _send(config: SmsFileConfig, messages: Sequence[SmsMessage]) -> Iterator[list[SendResult]]:
    """The whole batch in one append (one fsync), so its results come as one list."""
    try:
        append_lines(config.path, [_line(config, m) for m in messages])
    except OSError as exc:
        yield [SendResult.transient(m.id, None, f"cannot write to {config.path}: {exc}")
               for m in messages]
        return
    yield [SendResult.accepted(m.id, m.id, info={"path": str(config.path)}) for m in messages]


@hookimpl
def postroom_test(config: object, target: str | None) -> Diagnosis | None:
    if not isinstance(config, SmsFileConfig):
        return None
    try:
        append_lines(config.path, [])
    except OSError as exc:
        return Diagnosis.failed("write", "not-writable", f"cannot write to {config.path}: "
                                f"{exc.strerror}", "fix the folder's permissions or point path "
                                "somewhere writable")
    facts = {"path": str(config.path)}
    if target:
        message = SmsMessage(to=target, text="postroom test message")
        list(_send(config, [message]))
        facts["message_id"] = message.id
    return Diagnosis.passed("write", f"can append text messages to {config.path}", facts)
