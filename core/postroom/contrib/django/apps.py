"""The Django app: management commands, a system check of the configuration, and
read-only admin pages for the outbox when it is in Django's database (``admin``)."""

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
