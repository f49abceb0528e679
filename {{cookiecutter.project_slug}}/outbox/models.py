"""The outbox: tasks to send, written in the same transaction as the change they follow.

An Intent is the promise to run one task. It commits or rolls back together with the
rows written beside it, so a committed order always has its confirmation on the way and
a rolled-back one never does, whether or not the broker is up at that moment. The relay
(outbox/relay.py) publishes pending intents and marks them sent.

A ProcessedIntent is the consumer's side: one row per intent a task has acted on, so that
a second delivery of the same intent (the relay can publish one twice) does nothing.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Intent(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for the relay
        SENT = "sent"  # published, and confirmed by the broker
        DEAD = "dead"  # given up after too many failed attempts: a person must look

    # Also the Celery task id the intent is published with, so that a duplicate publish
    # carries the same id, which is what the consumer recognises it by.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    # The queue the task's route named when the intent was written.
    queue = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # The relay leaves the intent alone until then: its backoff after a failed publish.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The relay's query: due pending intents, oldest first. Partial, so that it
            # holds only the backlog, however many sent rows the table keeps.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="outbox_intent_due",
            ),
            # The hourly cleanup's query: sent intents older than the retention.
            models.Index(fields=["sent_at"], condition=Q(status="sent"), name="outbox_intent_sent"),
        ]

    def __str__(self):
        return f"{self.task_name} [{self.id}]"


class ProcessedIntent(models.Model):
    """An intent (a task id) whose task has had its effect. The primary key makes it once."""

    intent_id = models.UUIDField(primary_key=True)
    task_name = models.CharField(max_length=200)
    processed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"{self.task_name} [{self.intent_id}]"
