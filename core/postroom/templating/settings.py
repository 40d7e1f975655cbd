"""``TemplateSettings``: the ``[templates]`` table of ``postroom.toml``.

::

    [templates]
    directory = "templates"        # relative to postroom.toml
    timezone = "Europe/London"     # times for recipients who have no zone of their own
    max_sms_segments = 3           # preview warns about an SMS longer than this
    max_render_seconds = 2         # a part that takes longer to render is refused

    [templates.channels]           # what validate checks each template can be sent by
    reminder = ["email", "sms"]
    report_attached = ["email"]
"""

from __future__ import annotations

from pathlib import Path

from attrs import field, frozen

from postroom.messages import Channel
from postroom.settings import PositiveInt, Seconds, check
from postroom.templating.filters import time_zone


def _is_folder(_instance, _attribute, value: Path) -> None:
    check("directory", value.is_dir(),
          f"no folder at {value}; create it or point directory at your templates")


def _is_zone(_instance, _attribute, value: str) -> None:
    try:
        time_zone(value)
    except ValueError as exc:
        check("timezone", False, str(exc))


@frozen(kw_only=True)
class TemplateSettings:
    """Where templates are and how they are rendered; structured with postroom's converter.

    ``directory`` holds the template folders; ``timezone`` (IANA name) is
    the zone times are shown in for recipients without one; a preview warns
    when an SMS needs more than ``max_sms_segments``; ``channels`` names the
    channels each template is sent by, so ``validate`` can tell a template
    that lacks a part before a message needs it. ``max_render_seconds`` is
    the time one part may take to render: a template that loops longer is
    refused, not left to hold a worker.
    """

    directory: Path = field(validator=_is_folder)
    timezone: str = field(default="UTC", validator=_is_zone)
    max_sms_segments: PositiveInt = field(default=3)
    max_render_seconds: Seconds = 2.0
    channels: dict[str, list[Channel]] = field(factory=dict)
