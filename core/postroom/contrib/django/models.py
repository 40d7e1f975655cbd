"""The PostgreSQL store's outbox and delivery log as unmanaged models, for the
read-only admin (``postroom.contrib.django.admin``).

postroom owns these tables and their versions (``postroom store upgrade``):
Django never creates, migrates nor writes them, and the app has no
migrations. Times are kept as seconds since the epoch, as every store keeps
them; the admin shows them as dates.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import models

from postroom.contrib.django.tables import schema, table

SCHEMA = schema()  # read once, from the configuration, when Django loads the models


def when(seconds: float | None) -> datetime | None:
    """A stored time as an aware datetime (None stays None)."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class OutboxMessage(models.Model):
    """A message in the outbox, whatever its state (queued, sent, dead...)."""

    seq = models.BigIntegerField(primary_key=True)
    # Django reserves the name "id" for the primary key; the store's is seq.
    message_id = models.TextField("message id", db_column="id", unique=True)
    account = models.TextField()
    recipient = models.TextField()
    summary = models.TextField()
    state = models.TextField()
    not_before = models.FloatField()
    manual = models.BooleanField()
    critical = models.BooleanField()
    attempts = models.IntegerField()
    created = models.FloatField()
    sent_at = models.FloatField(null=True)
    provider_id = models.TextField(null=True)
    last_error = models.TextField(null=True)
    route = models.TextField(null=True)
    batch = models.TextField(null=True)
    report = models.TextField(null=True)

    class Meta:
        managed = False
        db_table = table(SCHEMA, "outbox")
        verbose_name = "outbox message"
        verbose_name_plural = "outbox"
        ordering = ("-seq",)

    def __str__(self) -> str:
        return f"{self.summary} to {self.recipient}"


class DeliveryLogEntry(models.Model):
    """One attempt to send a message, and its outcome."""

    seq = models.BigIntegerField(primary_key=True)
    message_id = models.TextField("message id")
    at = models.FloatField()
    account = models.TextField()
    provider = models.TextField()
    recipient = models.TextField()
    summary = models.TextField()
    outcome = models.TextField()
    attempt = models.IntegerField()
    provider_id = models.TextField(null=True)
    code = models.TextField(null=True)
    text = models.TextField()
    cost = models.TextField(null=True)
    currency = models.TextField(null=True)
    info = models.JSONField()

    class Meta:
        managed = False
        db_table = table(SCHEMA, "delivery_log")
        verbose_name = "delivery log entry"
        verbose_name_plural = "delivery log"
        ordering = ("-seq",)

    def __str__(self) -> str:
        return f"{self.outcome}: {self.summary} to {self.recipient}"
