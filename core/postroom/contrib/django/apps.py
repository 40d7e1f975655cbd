"""The Django app: management commands and a system check of the configuration."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class PostroomConfig(AppConfig):
    name = "postroom.contrib.django"
    label = "postroom"
    verbose_name = "postroom"

    def ready(self) -> None:
        from postroom.contrib.django.engine import configuration_errors

        checks.register(configuration_errors, "postroom")
