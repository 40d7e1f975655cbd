"""Read-only admin pages for the outbox and the delivery log.

Registered only when postroom's store is PostgreSQL and so is Django's
database (``tables.may_share``): another store keeps its tables where Django
cannot query them. The pages then show only while the outbox really is in
Django's database (``tables.shares``, the email backend's own test), and
nobody may add, change or delete through them: postroom's worker owns these
rows, and cancel, retry and pause are on postroom's own admin page
(``postroom.web``).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from postroom.contrib.django.models import DeliveryLogEntry, OutboxMessage, when
from postroom.contrib.django.tables import database, may_share, shares


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only, of the database the store shares."""

    actions = None
    list_per_page = 50
    show_full_result_count = False  # a long log would be counted on every page

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).using(database())

    def has_module_permission(self, request: HttpRequest) -> bool:
        return shares() and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return shares() and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class OutboxAdmin(ReadOnlyAdmin):
    list_display = ("summary", "account", "recipient", "state", "due", "sent", "attempts",
                    "last_error")
    list_filter = ("account", "state")
    search_fields = ("recipient", "=message_id")
    fields = ("message_id", "account", "recipient", "summary", "state", "attempts", "due",
              "queued", "sent", "provider_id", "report", "last_error", "route", "batch",
              "manual", "critical")
    readonly_fields = ("due", "queued", "sent")

    @admin.display(description="due", ordering="not_before")
    def due(self, row: OutboxMessage) -> datetime | None:
        return when(row.not_before)

    @admin.display(description="queued", ordering="created")
    def queued(self, row: OutboxMessage) -> datetime | None:
        return when(row.created)

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, row: OutboxMessage) -> datetime | None:
        return when(row.sent_at)


class DeliveryLogAdmin(ReadOnlyAdmin):
    list_display = ("time", "account", "recipient", "summary", "outcome", "attempt", "provider",
                    "code", "text")
    list_filter = ("account", "outcome")
    search_fields = ("recipient", "=message_id")
    fields = ("time", "message_id", "account", "provider", "recipient", "summary", "outcome",
              "attempt", "provider_id", "code", "text", "cost", "currency", "info")
    readonly_fields = ("time",)

    @admin.display(description="time", ordering="at")
    def time(self, row: DeliveryLogEntry) -> datetime | None:
        return when(row.at)


if may_share():
    admin.site.register(OutboxMessage, OutboxAdmin)
    admin.site.register(DeliveryLogEntry, DeliveryLogAdmin)
